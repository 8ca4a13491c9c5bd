#[test]
fn three() {
    assert_eq!(ejecta_no_such_dev_dependency::value(), ejecta_mode_devdep::three());
}
