#[cfg(test)]
mod tests {
    #[test]
    fn builds() {}
}
