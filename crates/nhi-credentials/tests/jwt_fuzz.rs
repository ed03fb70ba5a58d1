//! Property tests: no change to a valid token is accepted, and no input panics.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::indexing_slicing)]

mod common;

use common::*;
use nhi_credentials::{CredentialProvider, CredentialSecret};
use proptest::prelude::*;

const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.";

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(future)
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn any_single_character_change_is_refused(position in any::<prop::sample::Index>(),
                                               replacement in 0..ALPHABET.len()) {
        block_on(async {
            let f = fixture();
            let issued = f.provider.issue(&request()).await.unwrap();
            let mut bytes = issued.secret.expose_secret().as_bytes().to_vec();
            let at = position.index(bytes.len());
            let new = ALPHABET[replacement];
            prop_assume!(bytes[at] != new);
            bytes[at] = new;

            let token = CredentialSecret::new(String::from_utf8(bytes).unwrap());
            let err = f.provider.verify(&token).await.unwrap_err();
            prop_assert!(err.is_rejection(), "{err:?}");
            Ok(())
        })?;
    }

    #[test]
    fn arbitrary_text_never_panics(text in ".{0,300}") {
        block_on(async {
            let f = fixture();
            let err = f.provider.verify(&CredentialSecret::new(text)).await.unwrap_err();
            prop_assert!(err.is_rejection(), "{err:?}");
            Ok(())
        })?;
    }

    #[test]
    fn arbitrary_token_shaped_text_never_panics(parts in prop::collection::vec("[A-Za-z0-9_-]{0,60}", 3)) {
        block_on(async {
            let f = fixture();
            let token = CredentialSecret::new(parts.join("."));
            let err = f.provider.verify(&token).await.unwrap_err();
            prop_assert!(err.is_rejection(), "{err:?}");
            Ok(())
        })?;
    }
}
