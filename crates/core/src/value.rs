//! A parsed cell of the exchange format, as the importer hands it to the store.

use crate::calendar::Period;
use chrono::{NaiveDate, NaiveDateTime};

/// One validated value, borrowed from the row it was read from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Cell<'a> {
    /// Empty: unknown, never zero.
    Null,
    /// Text (ids included).
    Text(&'a str),
    /// A number.
    Number(f64),
    /// A date.
    Date(NaiveDate),
    /// A local date-time.
    DateTime(NaiveDateTime),
    /// A boolean.
    Bool(bool),
    /// A code, as its English spelling.
    Code(&'static str),
    /// A month.
    Period(Period),
}

impl Cell<'_> {
    /// The text of a text or code cell.
    pub fn as_text(&self) -> Option<&str> {
        match self {
            Cell::Text(t) => Some(t),
            Cell::Code(c) => Some(c),
            _ => None,
        }
    }

    /// The value of a number cell.
    pub fn as_number(&self) -> Option<f64> {
        match self {
            Cell::Number(n) => Some(*n),
            _ => None,
        }
    }

    /// The value of a date cell.
    pub fn as_date(&self) -> Option<NaiveDate> {
        match self {
            Cell::Date(d) => Some(*d),
            _ => None,
        }
    }
}
