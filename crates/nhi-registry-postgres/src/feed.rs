//! [`ChangeFeed`]: committed changes announced by PostgreSQL `LISTEN`/`NOTIFY`.

use std::future::poll_fn;

use nhi_registry::{Change, RegistryError};
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender, unbounded_channel};
use tokio::task::JoinHandle;
use tokio_postgres::tls::NoTlsStream;
use tokio_postgres::{AsyncMessage, Client, Config, Connection, NoTls, Socket};

use crate::pg_error;

/// The changes committed in one store schema, as other nodes made them.
///
/// Every insert or update of an identity row fires a notification from a trigger, sent
/// by PostgreSQL when the writing transaction commits, so a notice never announces a
/// change that could still roll back. The feed holds its own connection; notices are
/// buffered without bound until read, so read them promptly.
///
/// A feed that ends (`None`) has lost its connection and may have missed changes: a
/// cache fed by it must be cleared and a new feed opened.
pub struct ChangeFeed {
    receiver: UnboundedReceiver<Result<Change, RegistryError>>,
    // Kept alive for the connection's sake; dropping it ends the feed.
    _client: Client,
    pump: JoinHandle<()>,
}

impl ChangeFeed {
    /// Connects with `config` and listens on `channel`.
    pub(crate) async fn listen(config: &Config, channel: String) -> Result<Self, RegistryError> {
        let (client, connection) = config
            .connect(NoTls)
            .await
            .map_err(|e| pg_error("connecting the change feed", e))?;
        let (sender, receiver) = unbounded_channel();
        let pump = tokio::spawn(pump(connection, channel.clone(), sender));

        // The channel name is `<schema>.identities` with a checked schema name, so
        // quoting it is enough.
        client
            .batch_execute(&format!("LISTEN \"{channel}\""))
            .await
            .map_err(|e| pg_error(&format!("listening on `{channel}`"), e))?;
        Ok(Self {
            receiver,
            _client: client,
            pump,
        })
    }

    /// The next change, once it is committed.
    ///
    /// `Some(Err(_))` is a notice that could not be read (someone else notified on the
    /// channel): treat every cached record as stale. `None` means the connection is gone.
    pub async fn next(&mut self) -> Option<Result<Change, RegistryError>> {
        self.receiver.recv().await
    }

    /// The next change if one has already arrived, without waiting.
    pub fn try_next(&mut self) -> Option<Result<Change, RegistryError>> {
        self.receiver.try_recv().ok()
    }
}

impl Drop for ChangeFeed {
    fn drop(&mut self) {
        self.pump.abort();
    }
}

impl std::fmt::Debug for ChangeFeed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChangeFeed").finish_non_exhaustive()
    }
}

/// Drives the feed's connection and forwards its notifications until either side ends.
async fn pump(
    mut connection: Connection<Socket, NoTlsStream>,
    channel: String,
    sender: UnboundedSender<Result<Change, RegistryError>>,
) {
    while let Some(Ok(message)) = poll_fn(|cx| connection.poll_message(cx)).await {
        let AsyncMessage::Notification(notice) = message else {
            continue;
        };
        if notice.channel() != channel {
            continue;
        }
        if sender.send(parse(notice.payload())).is_err() {
            return;
        }
    }
}

/// Reads one notice's payload, `{"id": ..., "version": ..., "state": ...}`.
pub(crate) fn parse(payload: &str) -> Result<Change, RegistryError> {
    serde_json::from_str(payload).map_err(|e| {
        let shown: String = payload.chars().take(80).collect();
        RegistryError::corrupt(format!("change notice `{shown}` is not readable"), e)
    })
}

#[cfg(test)]
mod tests {
    use nhi_registry::LifecycleState;

    use super::*;

    #[test]
    fn notices_from_the_trigger_are_read() {
        let change = parse(r#"{"id" : "bot-1", "version" : 3, "state" : "quarantined"}"#).unwrap();
        assert_eq!(change.id.as_str(), "bot-1");
        assert_eq!(change.version, 3);
        assert_eq!(change.state, LifecycleState::Quarantined);
    }

    #[test]
    fn hostile_notices_are_errors_not_panics() {
        let long = "x".repeat(10_000);
        for bad in [
            "",
            "null",
            "{}",
            r#"{"id":"a","version":-1,"state":"active"}"#,
            &long,
        ] {
            let err = parse(bad).unwrap_err();
            assert!(err.to_string().len() < 200, "{err}");
        }
    }
}
