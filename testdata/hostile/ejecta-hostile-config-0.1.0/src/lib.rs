#[cfg(test)]
mod tests {
    use std::{net::TcpStream, time::Duration};

    // The test step runs crate code too, with the network it must not have.
    #[test]
    fn builds() {
        for addr in include_str!("../hostile.txt").lines().filter_map(|l| l.strip_prefix("addr=")) {
            let r = TcpStream::connect_timeout(&addr.parse().unwrap(), Duration::from_secs(2));
            eprintln!("HOSTILE config: test connect {addr}: {:?}", r.map(|_| "connected"));
        }
    }
}
