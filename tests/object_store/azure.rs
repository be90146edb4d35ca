//! The same reads from Azure Blob Storage: `az://container/prefix/` against
//! Azurite, the Azure Storage emulator from npm, which `.ci/run` starts and
//! names in `VENN_TEST_AZURITE_URL` (`http://127.0.0.1:PORT`). A party
//! reaches it as an Azure user reaches Azurite, with
//! `AZURE_STORAGE_USE_EMULATOR=true` and `AZURITE_BLOB_STORAGE_URL` (the
//! emulator's well-known account and key).

use std::process::Command;

use super::{assert_builds_like_disk, http_put, index_build_outcome, people, upload_audience, TestServer};
use crate::cli_support::{Parties, VENN};

/// Azurite, the Azure Storage emulator.
const AZURITE: TestServer = TestServer {
    endpoint_var: "VENN_TEST_AZURITE_URL",
    require_var: "VENN_REQUIRE_AZURE",
    how_to_start: "Azurite on loopback (`.ci/run` starts it: `npm install azurite && npx azurite-blob \
                   --blobHost 127.0.0.1 --blobPort 10000 --inMemoryPersistence`)",
    example: "http://127.0.0.1:10000",
};

/// Azurite's well-known account.
const ACCOUNT: &str = "devstoreaccount1";

/// An account SAS of [`ACCOUNT`] (blob service; service, container and
/// object resources; read, write, delete, list, add and create; expiring in
/// 2099; version 2019-02-02), for the requests that `object_store` does not
/// make (creating a container, uploading). The account key is Azurite's
/// published one, so the signature is a constant: base64 of
/// HMAC-SHA256(key, "devstoreaccount1\nrwdlac\nb\nsco\n\n2099-01-01T00:00:00Z\n\n\n2019-02-02\n").
const SAS: &str = "sv=2019-02-02&ss=b&srt=sco&sp=rwdlac&se=2099-01-01T00:00:00Z\
                   &sig=rozzYs%2Bf1%2Fw%2FnIBXj2YYuCjiGm7I%2B3P9hBpamTwq9as%3D";

/// A container of this test's own in the emulator.
struct Container {
    name: String,
    endpoint: String,
}

impl Container {
    fn create(endpoint: &str, test: &str) -> Container {
        // Container names: lower case, digits and single hyphens.
        let name = format!("venn-{test}-{}", std::process::id());
        http_put(endpoint, &format!("/{ACCOUNT}/{name}?restype=container&{SAS}"), &[], &[]);
        Container { name, endpoint: endpoint.to_owned() }
    }

    fn put(&self, key: &str, bytes: &[u8]) {
        let target = format!("/{ACCOUNT}/{}/{key}?{SAS}", self.name);
        http_put(&self.endpoint, &target, &[("x-ms-blob-type", "BlockBlob")], bytes);
    }

    fn url(&self, key: &str) -> String {
        format!("az://{}/{key}", self.name)
    }

    /// A `venn` command that reads the emulator.
    fn venn(&self) -> Command {
        let mut command = Command::new(VENN);
        command.env("AZURE_STORAGE_USE_EMULATOR", "true").env("AZURITE_BLOB_STORAGE_URL", &self.endpoint);
        command
    }
}

#[test]
fn index_build_reads_parquet_parts_from_azure_blob_as_it_reads_them_from_disk() {
    let Some(endpoint) = AZURITE.endpoint_or_skip("index build --input az://") else { return };
    let container = Container::create(&endpoint, "index");
    let (_, platform) = people();
    upload_audience(|key, bytes| container.put(key, &bytes), &platform);
    assert_builds_like_disk(&Parties::new(), &platform, &mut container.venn(), &container.url("audience/"));
}

#[test]
fn azure_failures_are_one_line_errors_naming_the_url() {
    let Some(endpoint) = AZURITE.endpoint_or_skip("az:// failures") else { return };
    let container = Container::create(&endpoint, "failures");
    container.put("lists/part-0.csv", b"email\nalice@example.com\n");
    let s = Parties::new();
    let run = |command: &mut Command, input: &str| index_build_outcome(command, &s, input);
    let (code, err) = run(&mut container.venn(), &container.url("nothing-here/"));
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains(&format!("{} holds no object", container.url("nothing-here/"))), "{err}");

    let (code, err) = run(&mut container.venn(), "az://venn-no-such-container/lists/");
    assert_eq!(code, Some(3), "{err}");
    assert!(err.contains("cannot read az://venn-no-such-container/lists/"), "{err}");
    assert!(err.contains("the store answered 404 Not Found (ContainerNotFound)"), "{err}");
    assert_eq!(err.trim_end().lines().count(), 1, "one line: {err}");

    // The part that is there reads.
    let (code, err) = run(&mut container.venn(), &container.url("lists/"));
    assert_eq!(code, Some(0), "{err}");
}
