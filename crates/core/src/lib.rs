//! Jicha's domain core: the codes, dates and tables of the exchange format, tariffs and bill
//! arithmetic, and the derivation of daily consumption from meter registers.
//!
//! Pure by design: nothing here reads files, runs SQL or talks to a network, so every rule can be
//! tested alone and shared by the importer, the generator and the audit engine.

pub mod calendar;
pub mod codes;
pub mod consumption;
pub mod problem;
pub mod schema;
pub mod tariff;
pub mod value;
