#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The TLS transport on real loopback sockets: a daisy conversation inside TLS, a pinned
//! fingerprint, and the refusals of a plain peer on either side.
#![cfg(feature = "tokio")]

use std::time::Duration;

use daisy_protocol::{
    ClientMessage, DEFAULT_MAX_FRAME, ProtocolError, ServerMessage, Stream, TlsError, TlsIdentity,
    decode_frame, encode_frame,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// Every wait in these tests; a hang fails the test instead of blocking the suite.
const BOUND: Duration = Duration::from_secs(10);

async fn bounded<T>(future: impl Future<Output = T>) -> T {
    tokio::time::timeout(BOUND, future)
        .await
        .expect("bounded wait")
}

async fn send<M: serde::Serialize>(stream: &mut (impl AsyncWrite + Unpin), message: &M) {
    let mut out = Vec::new();
    encode_frame(message, DEFAULT_MAX_FRAME, &mut out).unwrap();
    stream.write_all(&out).await.unwrap();
    stream.flush().await.unwrap();
}

/// Reads one frame; `Err` for bytes that are not one.
async fn receive<M: serde::de::DeserializeOwned>(
    stream: &mut (impl AsyncRead + Unpin),
) -> Result<Option<M>, ProtocolError> {
    let mut buffer = Vec::new();
    loop {
        if let Some((message, _)) = decode_frame(&buffer, DEFAULT_MAX_FRAME)? {
            return Ok(Some(message));
        }
        let mut chunk = [0u8; 4096];
        let n = stream.read(&mut chunk).await.unwrap_or(0);
        if n == 0 {
            return Ok(None);
        }
        buffer.extend_from_slice(&chunk[..n]);
    }
}

fn hello(token: &str) -> ClientMessage {
    ClientMessage::hello(token, "A", Some(3))
}

#[tokio::test]
async fn hello_and_welcome_travel_inside_tls() {
    let identity = TlsIdentity::generate().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let fingerprint = identity.fingerprint().to_owned();
    let client = tokio::spawn(async move {
        let tcp = TcpStream::connect(address).await.unwrap();
        let mut stream = Stream::connect(tcp, Some(&fingerprint), "here")
            .await
            .unwrap();
        assert!(stream.is_tls());
        send(&mut stream, &hello("secret")).await;
        receive::<ServerMessage>(&mut stream).await.unwrap()
    });
    let (tcp, _) = bounded(listener.accept()).await.unwrap();
    let stream = bounded(Stream::accept(tcp, Some(&identity))).await.unwrap();
    let (mut read, mut write) = stream.into_split();
    let first: ClientMessage = bounded(receive(&mut read)).await.unwrap().unwrap();
    assert_eq!(first, hello("secret"));
    send(&mut write, &ServerMessage::Welcome { version: 1 }).await;
    let reply = bounded(client).await.unwrap();
    assert_eq!(reply, Some(ServerMessage::Welcome { version: 1 }));
}

#[tokio::test]
async fn a_server_with_another_certificate_is_refused() {
    let (server, other) = (
        TlsIdentity::generate().unwrap(),
        TlsIdentity::generate().unwrap(),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepting = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        Stream::accept(tcp, Some(&server)).await.map(|_| ())
    });
    let tcp = TcpStream::connect(address).await.unwrap();
    let error = bounded(Stream::connect(
        tcp,
        Some(other.fingerprint()),
        "the-host:1",
    ))
    .await
    .unwrap_err();
    let TlsError::Mismatch {
        address,
        expected,
        found,
    } = &error
    else {
        panic!("not a mismatch: {error}");
    };
    assert_eq!(
        (address.as_str(), expected.as_str()),
        ("the-host:1", other.fingerprint())
    );
    assert_ne!(found, expected);
    assert!(
        error
            .to_string()
            .starts_with("the daisy server at the-host:1 presents a TLS certificate"),
        "{error}"
    );
    // The server's side fails too, without hanging.
    assert!(bounded(accepting).await.unwrap().is_err());
}

#[tokio::test]
async fn a_plain_client_is_told_the_server_speaks_tls_only() {
    let identity = TlsIdentity::generate().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let accepting = tokio::spawn(async move {
        let (tcp, _) = listener.accept().await.unwrap();
        Stream::accept(tcp, Some(&identity)).await.map(|_| ())
    });
    let mut plain = TcpStream::connect(address).await.unwrap();
    send(&mut plain, &hello("secret")).await;
    let reply: Option<ServerMessage> = bounded(receive(&mut plain)).await.unwrap();
    let Some(ServerMessage::Refused { reason }) = reply else {
        panic!("not refused: {reply:?}");
    };
    assert!(reason.contains("accepts TLS connections only"), "{reason}");
    // ... and the server closes the connection.
    assert_eq!(bounded(plain.read(&mut [0u8; 16])).await.unwrap(), 0);
    let error = bounded(accepting).await.unwrap().unwrap_err();
    assert!(matches!(error, TlsError::PlainPeer { first: 0 }), "{error}");
}

#[tokio::test]
async fn a_tls_client_refuses_a_plain_server() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    // A plain daisy server: the ClientHello is not a frame it accepts, so it closes.
    let serving = tokio::spawn(async move {
        let (mut tcp, _) = listener.accept().await.unwrap();
        let first = receive::<ClientMessage>(&mut tcp).await;
        drop(tcp);
        first
    });
    let identity = TlsIdentity::generate().unwrap();
    let tcp = TcpStream::connect(address).await.unwrap();
    let error = bounded(Stream::connect(tcp, Some(identity.fingerprint()), "h:2"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, TlsError::Closed { address } if address == "h:2"),
        "{error}"
    );
    assert!(matches!(
        bounded(serving).await.unwrap(),
        Err(ProtocolError::FrameTooLarge { .. })
    ));
}

#[tokio::test]
async fn a_peer_that_closes_at_once_fails_the_accept() {
    let identity = TlsIdentity::generate().unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    drop(TcpStream::connect(address).await.unwrap());
    let (tcp, _) = listener.accept().await.unwrap();
    let error = bounded(Stream::accept(tcp, Some(&identity)))
        .await
        .unwrap_err();
    assert!(matches!(error, TlsError::Accept { .. }), "{error}");
}

/// Copies bytes both ways between `client` and `server`, recording what the client sent.
async fn relay(client: TcpStream, server: TcpStream) -> Vec<u8> {
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    let back = tokio::spawn(async move {
        let _ = tokio::io::copy(&mut server_read, &mut client_write).await;
    });
    let mut seen = Vec::new();
    let mut chunk = [0u8; 4096];
    while let Ok(n) = client_read.read(&mut chunk).await {
        if n == 0 {
            break;
        }
        seen.extend_from_slice(&chunk[..n]);
        if server_write.write_all(&chunk[..n]).await.is_err() {
            break;
        }
    }
    let _ = server_write.shutdown().await;
    let _ = back.await;
    seen
}

/// What a proxy between a client and a server saw the client send for a Hello with `token`.
async fn sniff(tls: bool, token: &str) -> Vec<u8> {
    let identity = TlsIdentity::generate().unwrap();
    let server = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let proxy = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (server_address, proxy_address) =
        (server.local_addr().unwrap(), proxy.local_addr().unwrap());
    let served = identity.clone();
    let serving = tokio::spawn(async move {
        let (tcp, _) = server.accept().await.unwrap();
        let mut stream = Stream::accept(tcp, tls.then_some(&served)).await.unwrap();
        let hello: ClientMessage = receive(&mut stream).await.unwrap().unwrap();
        send(&mut stream, &ServerMessage::Welcome { version: 1 }).await;
        hello
    });
    let relaying = tokio::spawn(async move {
        let (client, _) = proxy.accept().await.unwrap();
        relay(client, TcpStream::connect(server_address).await.unwrap()).await
    });
    let tcp = TcpStream::connect(proxy_address).await.unwrap();
    let fingerprint = tls.then(|| identity.fingerprint().to_owned());
    let mut stream = bounded(Stream::connect(tcp, fingerprint.as_deref(), "proxy"))
        .await
        .unwrap();
    send(&mut stream, &hello(token)).await;
    let reply: Option<ServerMessage> = bounded(receive(&mut stream)).await.unwrap();
    assert_eq!(reply, Some(ServerMessage::Welcome { version: 1 }));
    drop(stream);
    assert_eq!(bounded(serving).await.unwrap(), hello(token));
    bounded(relaying).await.unwrap()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

#[tokio::test]
async fn the_token_cannot_be_sniffed_from_a_tls_connection() {
    let token = "0f1e2d3c4b5a69788796a5b4c3d2e1f0";
    // The check can fail: without TLS the proxy sees the token.
    assert!(contains(&sniff(false, token).await, token.as_bytes()));
    let seen = sniff(true, token).await;
    assert!(seen.len() > token.len());
    assert!(!contains(&seen, token.as_bytes()));
    assert!(!contains(&seen, b"DSY1"));
}
