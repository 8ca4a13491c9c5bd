// Tries the network as build scripts that download things do: by name and by
// address. Neither works in the sandbox.
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

fn main() {
    match "static.crates.io:443".to_socket_addrs() {
        Ok(_) => println!("resolved static.crates.io"),
        Err(e) => eprintln!("resolve static.crates.io: {e}"),
    }
    let addr = "192.0.2.1:443".parse().unwrap();
    match TcpStream::connect_timeout(&addr, Duration::from_secs(5)) {
        Ok(_) => println!("connected to {addr}"),
        Err(e) => panic!("download failed: connect to {addr}: {e}"),
    }
}
