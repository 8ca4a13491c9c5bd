// Prints terminal control sequences, and fails on purpose so that cargo
// copies them into the build's log: a window title, a clipboard write, a
// screen clear, a device status query, a hyperlink, a DCS string.
fn main() {
    let seqs = [
        "\x1b]0;HOSTILE-TITLE\x07",
        "\x1b]52;c;SE9TVElMRQ==\x07",
        "\x1b[2J\x1b[H",
        "\x1b[6n",
        "\x1b]8;;http://127.0.0.1/\x1b\\HOSTILE-LINK\x1b]8;;\x1b\\",
        "\x1bP+q544e\x1b\\",
        "\x1b[31mHOSTILE-RED\x1b[0m",
    ];
    panic!("HOSTILE escape: {}", seqs.concat());
}
