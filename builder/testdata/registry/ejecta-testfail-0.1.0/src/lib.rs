//! Builds; `wrong` fails, on purpose.

pub fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[cfg(test)]
mod tests {
    #[test]
    fn right() {
        assert_eq!(super::add(2, 2), 4);
    }

    #[test]
    fn wrong() {
        assert_eq!(super::add(2, 2), 5, "arithmetic is not what this test thinks");
    }
}
