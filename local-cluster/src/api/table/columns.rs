//! What every printer is made of: a column and its definition, a printer (columns and the cells
//! of a row, side by side so they cannot drift apart), the cells every kind shares, and how a
//! value reads in a cell.

use serde_json::{Value, json};

use kube_units::durations::human_duration;

/// One column of a table, as the server describes it to kubectl.
#[derive(Clone, Copy, Debug)]
pub(super) struct Column {
    pub(super) name: &'static str,
    /// The OpenAPI type of its cells: `string`, `integer`, `date`.
    pub(super) kind: &'static str,
    /// A format hint (`name` for the object's name).
    pub(super) format: &'static str,
    /// 0: always shown; 1: only with `-o wide`.
    pub(super) priority: u8,
    pub(super) description: &'static str,
}

impl Column {
    /// A text column shown by default.
    pub(super) const fn string(name: &'static str, description: &'static str) -> Column {
        Column::typed(name, "string", description)
    }

    /// A column of another type, shown by default.
    pub(super) const fn typed(
        name: &'static str,
        kind: &'static str,
        description: &'static str,
    ) -> Column {
        Column {
            name,
            kind,
            format: "",
            priority: 0,
            description,
        }
    }

    /// With a format hint.
    pub(super) const fn format(self, format: &'static str) -> Column {
        Column { format, ..self }
    }

    /// Shown only with `-o wide`.
    pub(super) const fn wide(self) -> Column {
        Column {
            priority: 1,
            ..self
        }
    }
}

/// A kind's table: its columns and the cells of one object's row, in the same order.
pub(super) struct Printer {
    pub(super) columns: Vec<Column>,
    pub(super) cells: fn(&Value, Common) -> Vec<Value>,
}

/// What most rows start with, made once for every printer.
pub(super) struct Common {
    /// The Name cell.
    pub(super) name: Value,
    /// The Age cell's text.
    pub(super) created: String,
}

impl Common {
    pub(super) fn of(object: &Value) -> Common {
        Common {
            name: json!(text(&object["metadata"]["name"])),
            created: age(&object["metadata"]["creationTimestamp"]),
        }
    }
}

pub(super) const NAME: Column =
    Column::string("Name", "Name must be unique within a namespace.").format("name");

pub(super) const AGE: Column = Column::string(
    "Age",
    "CreationTimestamp is a timestamp representing the server time when this object was created.",
);

/// The wide columns of every kind with a pod template.
pub(super) const CONTAINERS: Column =
    Column::string("Containers", "Names of each container in the template.").wide();

pub(super) const IMAGES: Column = Column::string(
    "Images",
    "Images referenced by each container in the template.",
)
.wide();

pub(super) fn text(v: &Value) -> String {
    v.as_str().unwrap_or_default().to_owned()
}

pub(super) fn or_none(s: String) -> String {
    if s.is_empty() { "<none>".into() } else { s }
}

/// Seconds since an RFC 3339 timestamp, if it parses.
pub fn age_seconds(timestamp: &Value) -> Option<i64> {
    let t: jiff::Timestamp = timestamp.as_str()?.parse().ok()?;
    Some(jiff::Timestamp::now().duration_since(t).as_secs())
}

pub(super) fn age(timestamp: &Value) -> String {
    age_seconds(timestamp)
        .map(human_duration)
        .unwrap_or_else(|| "<unknown>".into())
}

pub(super) fn selector_text(selector: &Value) -> String {
    or_none(crate::api::table_selector(selector))
}

pub(super) fn template_columns(spec: &Value) -> (String, String) {
    let containers = spec["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let names: Vec<String> = containers.iter().map(|c| text(&c["name"])).collect();
    let images: Vec<String> = containers.iter().map(|c| text(&c["image"])).collect();
    (names.join(","), images.join(","))
}
