//! The `venn` command.

fn main() {
    println!("venn: the command line arrives with the QUIC transport");
}
