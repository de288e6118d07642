//! XEP-0004 data form fields as plain values. `protocol/` turns XML forms
//! into `(var, values)` pairs for the core and renders [`FormField`]s back;
//! the `FORM_TYPE` hidden field is protocol's business (the core ignores it
//! on input and never emits it).

/// A submitted field: its `var` and its `<value/>`s in order.
pub type FieldValues = (String, Vec<String>);

/// The `var` of the hidden form-type field, ignored by the core on input.
pub const FORM_TYPE: &str = "FORM_TYPE";

/// XEP-0004 field types the core uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldType {
    Boolean,
    ListSingle,
    TextSingle,
    TextMulti,
    JidMulti,
}

impl FieldType {
    /// The XEP-0004 `type` attribute value.
    pub fn as_str(self) -> &'static str {
        match self {
            FieldType::Boolean => "boolean",
            FieldType::ListSingle => "list-single",
            FieldType::TextSingle => "text-single",
            FieldType::TextMulti => "text-multi",
            FieldType::JidMulti => "jid-multi",
        }
    }
}

/// A field to render: type, label, current value(s) and, for lists, the
/// allowed option values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FormField {
    pub var: String,
    pub field_type: FieldType,
    pub label: String,
    pub values: Vec<String>,
    /// Option values of a `list-single` field (label = value is fine).
    pub options: Vec<String>,
}

impl FormField {
    pub(crate) fn new(var: &str, field_type: FieldType, label: &str, values: Vec<String>) -> Self {
        FormField {
            var: var.to_owned(),
            field_type,
            label: label.to_owned(),
            values,
            options: Vec::new(),
        }
    }

    pub(crate) fn boolean(var: &str, label: &str, value: bool) -> Self {
        let v = if value { "1" } else { "0" };
        Self::new(var, FieldType::Boolean, label, vec![v.to_owned()])
    }

    pub(crate) fn text(var: &str, label: &str, value: impl Into<String>) -> Self {
        Self::new(var, FieldType::TextSingle, label, vec![value.into()])
    }

    pub(crate) fn list(var: &str, label: &str, value: &str, options: &[&str]) -> Self {
        let mut f = Self::new(var, FieldType::ListSingle, label, vec![value.to_owned()]);
        f.options = options.iter().map(|o| (*o).to_owned()).collect();
        f
    }

    /// The first value, if any.
    pub fn value(&self) -> Option<&str> {
        self.values.first().map(String::as_str)
    }
}

/// XEP-0004 boolean: `1`/`true` or `0`/`false`.
pub(crate) fn parse_bool(value: &str) -> Option<bool> {
    match value {
        "1" | "true" => Some(true),
        "0" | "false" => Some(false),
        _ => None,
    }
}

/// The single value of a single-valued field (none counts as empty).
pub(crate) fn single(values: &[String]) -> Option<&str> {
    match values {
        [] => Some(""),
        [v] => Some(v.as_str()),
        _ => None,
    }
}
