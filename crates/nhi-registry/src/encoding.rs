//! How database-backed stores write a record: the whole record as JSON, plus the
//! columns they index. Every SQL store uses this one encoding, so a record reads back
//! the same whichever engine wrote it.

use crate::error::RegistryError;
use crate::record::IdentityRecord;

/// One record ready for a row: its JSON and the values of the indexed columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The lifecycle state, as its keyword.
    pub state: &'static str,
    /// The tenant id.
    pub tenant: String,
    /// The environment.
    pub environment: String,
    /// The version, as the signed 64-bit integer SQL engines store.
    pub version: i64,
    /// The whole record as JSON.
    pub json: String,
}

impl StoredRecord {
    /// Encodes a record for storage.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Backend`] when the record cannot be written as JSON or its
    /// version does not fit a signed 64-bit column.
    pub fn encode(record: &IdentityRecord) -> Result<Self, RegistryError> {
        let json = serde_json::to_string(record)
            .map_err(|e| RegistryError::backend(format!("encoding identity `{}`", record.id), e))?;
        Ok(Self {
            state: record.state.as_str(),
            tenant: record.tenant.as_str().to_owned(),
            environment: record.environment.as_str().to_owned(),
            version: Self::column_version(record)?,
            json,
        })
    }

    /// The record's version as a signed 64-bit column value.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Backend`] when the version is above `i64::MAX`.
    pub fn column_version(record: &IdentityRecord) -> Result<i64, RegistryError> {
        i64::try_from(record.version).map_err(|e| {
            let what = format!(
                "version {} of identity `{}` is too large to store",
                record.version, record.id
            );
            RegistryError::backend(what, e)
        })
    }

    /// Reads a stored record back; a record that does not decode is corruption.
    ///
    /// # Errors
    ///
    /// [`RegistryError::Corrupt`] when the JSON is not a record.
    pub fn decode(json: &str) -> Result<IdentityRecord, RegistryError> {
        serde_json::from_str(json)
            .map_err(|e| RegistryError::corrupt("a stored identity record does not decode", e))
    }
}
