//! XEP-0004 data forms with minidom: reading submitted forms and rendering
//! forms and results. Field knowledge (types, labels) of the pubsub
//! FORM_TYPEs lives in `pubsub_forms.rs`; this file knows only XEP-0004.

use super::ns;
use super::xml::BuilderExt;
use tokio_xmpp::minidom::{Element, ElementBuilder};

/// The hidden field naming a form's context (XEP-0068).
pub const FORM_TYPE: &str = "FORM_TYPE";

/// The `type` attribute of `<x xmlns='jabber:x:data'/>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormKind {
    Form,
    Submit,
    Cancel,
    Result,
}

impl FormKind {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "form" => Some(Self::Form),
            "submit" => Some(Self::Submit),
            "cancel" => Some(Self::Cancel),
            "result" => Some(Self::Result),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Form => "form",
            Self::Submit => "submit",
            Self::Cancel => "cancel",
            Self::Result => "result",
        }
    }
}

/// A form as received: its type, FORM_TYPE and `(var, values)` pairs in
/// document order (FORM_TYPE itself is not among the fields).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceivedForm {
    pub kind: FormKind,
    pub form_type: Option<String>,
    pub fields: Vec<(String, Vec<String>)>,
}

impl ReceivedForm {
    /// The values of field `var`, if present.
    pub fn values(&self, var: &str) -> Option<&[String]> {
        self.fields
            .iter()
            .find(|(v, _)| v == var)
            .map(|(_, values)| values.as_slice())
    }
}

/// Why a form could not be read; every case is a `bad-request`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormError(pub String);

/// The first `<x xmlns='jabber:x:data'/>` child of `parent`.
pub fn find_form(parent: &Element) -> Option<&Element> {
    parent.get_child("x", ns::DATA_FORMS)
}

/// Reads `<x xmlns='jabber:x:data' type='…'>`. Fields without `var` are
/// skipped (only `fixed` fields may lack one); a field given twice, a
/// missing or unknown `type`, or a non-form element is an error.
pub fn parse_form(x: &Element) -> Result<ReceivedForm, FormError> {
    if !x.is("x", ns::DATA_FORMS) {
        return Err(FormError("expected a jabber:x:data form".into()));
    }
    let kind = x
        .attr("type")
        .and_then(FormKind::parse)
        .ok_or_else(|| FormError("data form has a missing or unknown type".into()))?;
    let mut form_type = None;
    let mut fields: Vec<(String, Vec<String>)> = Vec::new();
    for field in x.children().filter(|c| c.is("field", ns::DATA_FORMS)) {
        let Some(var) = field.attr("var") else {
            continue;
        };
        let values: Vec<String> = field
            .children()
            .filter(|c| c.is("value", ns::DATA_FORMS))
            .map(Element::text)
            .collect();
        if var == FORM_TYPE {
            if form_type.is_some() {
                return Err(FormError("FORM_TYPE given twice".into()));
            }
            form_type = Some(values.into_iter().next().unwrap_or_default());
            continue;
        }
        if fields.iter().any(|(v, _)| v == var) {
            return Err(FormError(format!("field '{var}' given twice")));
        }
        fields.push((var.to_owned(), values));
    }
    Ok(ReceivedForm {
        kind,
        form_type,
        fields,
    })
}

/// XEP-0004 §3.3 field types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Boolean,
    Fixed,
    Hidden,
    JidMulti,
    JidSingle,
    ListMulti,
    ListSingle,
    TextMulti,
    TextPrivate,
    TextSingle,
}

impl FieldType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Boolean => "boolean",
            Self::Fixed => "fixed",
            Self::Hidden => "hidden",
            Self::JidMulti => "jid-multi",
            Self::JidSingle => "jid-single",
            Self::ListMulti => "list-multi",
            Self::ListSingle => "list-single",
            Self::TextMulti => "text-multi",
            Self::TextPrivate => "text-private",
            Self::TextSingle => "text-single",
        }
    }
}

/// One `<option label='…'><value>…</value></option>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldOption {
    pub label: Option<String>,
    pub value: String,
}

/// A field to render.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub var: String,
    pub type_: Option<FieldType>,
    pub label: Option<String>,
    pub options: Vec<FieldOption>,
    pub values: Vec<String>,
}

impl Field {
    pub fn new(var: impl Into<String>, values: Vec<String>) -> Self {
        Field {
            var: var.into(),
            type_: None,
            label: None,
            options: Vec::new(),
            values,
        }
    }

    pub fn typed(mut self, type_: FieldType) -> Self {
        self.type_ = Some(type_);
        self
    }

    pub fn labelled(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    fn to_builder(&self) -> ElementBuilder {
        let mut b = Element::builder("field", ns::DATA_FORMS).a("var", self.var.as_str());
        if let Some(t) = self.type_ {
            b = b.a("type", t.as_str());
        }
        if let Some(label) = &self.label {
            b = b.a("label", label.as_str());
        }
        let options = self.options.iter().map(|o| {
            let mut ob = Element::builder("option", ns::DATA_FORMS);
            if let Some(label) = &o.label {
                ob = ob.a("label", label.as_str());
            }
            ob.append(value_el(&o.value))
        });
        b.append_all(options)
            .append_all(self.values.iter().map(|v| value_el(v)))
    }
}

fn value_el(v: &str) -> Element {
    Element::builder("value", ns::DATA_FORMS).append(v).build()
}

/// A form to render (type `form` or `result`, or a `submit` in tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Form {
    pub kind: FormKind,
    pub form_type: Option<String>,
    pub title: Option<String>,
    pub instructions: Option<String>,
    pub fields: Vec<Field>,
}

impl Form {
    pub fn new(kind: FormKind, form_type: Option<&str>) -> Self {
        Form {
            kind,
            form_type: form_type.map(str::to_owned),
            title: None,
            instructions: None,
            fields: Vec::new(),
        }
    }

    /// `<x xmlns='jabber:x:data' type='…'>` with FORM_TYPE first (hidden).
    pub fn to_element(&self) -> Element {
        let mut x = Element::builder("x", ns::DATA_FORMS).a("type", self.kind.as_str());
        if let Some(title) = &self.title {
            x = x.append(Element::builder("title", ns::DATA_FORMS).append(title.as_str()));
        }
        if let Some(text) = &self.instructions {
            x = x.append(Element::builder("instructions", ns::DATA_FORMS).append(text.as_str()));
        }
        if let Some(form_type) = &self.form_type {
            let field = Field::new(FORM_TYPE, vec![form_type.clone()]).typed(FieldType::Hidden);
            x = x.append(field.to_builder());
        }
        x.append_all(self.fields.iter().map(Field::to_builder))
            .build()
    }
}

/// XEP-0004 booleans: "1"/"true" and "0"/"false"; anything else is `None`.
pub fn parse_bool(value: &str) -> Option<bool> {
    match value.trim() {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn el(xml: &str) -> Element {
        xml.parse().unwrap()
    }

    // XEP-0060 Example 148 (owner submits node configuration form), shortened.
    const CONFIG_SUBMIT: &str = "<x xmlns='jabber:x:data' type='submit'>
        <field var='FORM_TYPE' type='hidden'>
          <value>http://jabber.org/protocol/pubsub#node_config</value>
        </field>
        <field var='pubsub#title'><value>Princely Musings (Atom)</value></field>
        <field var='pubsub#deliver_notifications'><value>1</value></field>
        <field var='pubsub#roster_groups_allowed'>
          <value>friends</value>
          <value>servants</value>
          <value>courtiers</value>
        </field>
        <field var='pubsub#description'/>
      </x>";

    #[test]
    fn parses_submit_form_from_example_148() {
        let form = parse_form(&el(CONFIG_SUBMIT)).unwrap();
        assert_eq!(form.kind, FormKind::Submit);
        assert_eq!(
            form.form_type.as_deref(),
            Some("http://jabber.org/protocol/pubsub#node_config")
        );
        assert_eq!(form.fields.len(), 4);
        assert_eq!(
            form.values("pubsub#title"),
            Some(&["Princely Musings (Atom)".to_owned()][..])
        );
        assert_eq!(
            form.values("pubsub#roster_groups_allowed").unwrap().len(),
            3
        );
        assert_eq!(form.values("pubsub#description"), Some(&[][..]));
        assert_eq!(form.values("FORM_TYPE"), None);
    }

    #[test]
    fn parses_cancel_form_from_example_149() {
        let form = parse_form(&el("<x xmlns='jabber:x:data' type='cancel'/>")).unwrap();
        assert_eq!(form.kind, FormKind::Cancel);
        assert!(form.form_type.is_none());
        assert!(form.fields.is_empty());
    }

    #[test]
    fn rejects_missing_type_duplicate_fields_and_wrong_element() {
        assert!(parse_form(&el("<x xmlns='jabber:x:data'/>")).is_err());
        assert!(parse_form(&el("<x xmlns='jabber:x:data' type='bogus'/>")).is_err());
        assert!(parse_form(&el("<x xmlns='urn:other' type='submit'/>")).is_err());
        let dup = "<x xmlns='jabber:x:data' type='submit'>
            <field var='a'><value>1</value></field>
            <field var='a'><value>2</value></field></x>";
        assert!(parse_form(&el(dup)).is_err());
    }

    #[test]
    fn field_without_var_is_skipped() {
        let xml = "<x xmlns='jabber:x:data' type='submit'>
            <field type='fixed'><value>note</value></field>
            <field var='a'><value>1</value></field></x>";
        let form = parse_form(&el(xml)).unwrap();
        assert_eq!(form.fields, vec![("a".to_owned(), vec!["1".to_owned()])]);
    }

    #[test]
    fn renders_form_with_types_labels_options_and_values() {
        let mut form = Form::new(
            FormKind::Form,
            Some("http://jabber.org/protocol/pubsub#node_config"),
        );
        form.title = Some("Node configuration".into());
        let mut access = Field::new("pubsub#access_model", vec!["open".into()])
            .typed(FieldType::ListSingle)
            .labelled("Who may subscribe and retrieve items");
        access.options = vec![
            FieldOption {
                label: None,
                value: "open".into(),
            },
            FieldOption {
                label: Some("Only those on a whitelist".into()),
                value: "whitelist".into(),
            },
        ];
        form.fields.push(access);
        let x = form.to_element();
        assert_eq!(x.attr("type"), Some("form"));
        assert_eq!(
            x.get_child("title", ns::DATA_FORMS).unwrap().text(),
            "Node configuration"
        );
        let fields: Vec<_> = x.children().filter(|c| c.name() == "field").collect();
        assert_eq!(fields[0].attr("var"), Some(FORM_TYPE));
        assert_eq!(fields[0].attr("type"), Some("hidden"));
        assert_eq!(fields[1].attr("type"), Some("list-single"));
        assert_eq!(
            fields[1]
                .children()
                .filter(|c| c.name() == "option")
                .count(),
            2
        );
        assert_eq!(
            fields[1].get_child("value", ns::DATA_FORMS).unwrap().text(),
            "open"
        );
    }

    #[test]
    fn rendered_result_round_trips_through_parse() {
        let mut form = Form::new(FormKind::Result, Some("urn:example"));
        form.fields
            .push(Field::new("a", vec!["x".into(), "y".into()]));
        let parsed = parse_form(&form.to_element()).unwrap();
        assert_eq!(parsed.kind, FormKind::Result);
        assert_eq!(parsed.form_type.as_deref(), Some("urn:example"));
        assert_eq!(parsed.values("a").unwrap(), ["x", "y"]);
    }

    #[test]
    fn booleans_follow_xep_0004() {
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("true"), Some(true));
        assert_eq!(parse_bool("0"), Some(false));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
