//! The bridge between the core's form values and XEP-0004 elements: core
//! [`FormField`]s rendered under a pubsub FORM_TYPE, and received forms
//! handed to the core as `(var, values)` pairs.

use super::forms::{self, Field, FieldOption, Form, FormKind, ReceivedForm};
use crate::pubsub::{FieldType as CoreType, FieldValues, FormField};
use tokio_xmpp::minidom::Element;

pub use super::request_util::{NODE_CONFIG, PUBLISH_OPTIONS, SUBSCRIBE_OPTIONS};
pub const META_DATA: &str = "http://jabber.org/protocol/pubsub#meta-data";
pub const SUBSCRIBE_AUTHORIZATION: &str =
    "http://jabber.org/protocol/pubsub#subscribe_authorization";

fn field_type(t: CoreType) -> forms::FieldType {
    match t {
        CoreType::Boolean => forms::FieldType::Boolean,
        CoreType::ListSingle => forms::FieldType::ListSingle,
        CoreType::TextSingle => forms::FieldType::TextSingle,
        CoreType::TextMulti => forms::FieldType::TextMulti,
        CoreType::JidMulti => forms::FieldType::JidMulti,
    }
}

/// One core field as an XEP-0004 field (options labelled by their value).
pub fn field(f: &FormField) -> Field {
    let mut out = Field::new(f.var.clone(), f.values.clone())
        .typed(field_type(f.field_type))
        .labelled(f.label.clone());
    out.options = (f.options.iter())
        .map(|v| FieldOption {
            label: None,
            value: v.clone(),
        })
        .collect();
    out
}

/// `<x xmlns='jabber:x:data' type='…'>` with FORM_TYPE and `fields`.
pub fn render(kind: FormKind, form_type: &str, fields: &[FormField]) -> Element {
    let mut form = Form::new(kind, Some(form_type));
    form.fields = fields.iter().map(field).collect();
    form.to_element()
}

/// The fields of a received form as the core takes them.
pub fn values(form: &ReceivedForm) -> Vec<FieldValues> {
    form.fields.clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::ns;

    #[test]
    fn core_fields_render_with_type_label_options_and_form_type() {
        let mut access = FormField {
            var: "pubsub#access_model".into(),
            field_type: CoreType::ListSingle,
            label: "Who may subscribe and retrieve items".into(),
            values: vec!["open".into()],
            options: vec!["open".into(), "whitelist".into()],
        };
        let x = render(FormKind::Form, NODE_CONFIG, std::slice::from_ref(&access));
        let parsed = forms::parse_form(&x).unwrap();
        assert_eq!(parsed.form_type.as_deref(), Some(NODE_CONFIG));
        assert_eq!(parsed.values("pubsub#access_model").unwrap(), ["open"]);
        let f = (x.children())
            .find(|c| c.attr("var") == Some("pubsub#access_model"))
            .unwrap();
        assert_eq!(f.attr("type"), Some("list-single"));
        assert_eq!(
            f.attr("label"),
            Some("Who may subscribe and retrieve items")
        );
        let options = f.children().filter(|c| c.is("option", ns::DATA_FORMS));
        assert_eq!(options.count(), 2);
        access.field_type = CoreType::Boolean;
        assert_eq!(field(&access).type_, Some(forms::FieldType::Boolean));
    }
}
