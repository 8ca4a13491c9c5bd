pub fn twice() -> u32 {
    2 * ejecta_shared_leaf::answer()
}
