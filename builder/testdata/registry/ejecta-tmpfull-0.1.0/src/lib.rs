// Nothing: the build script is the test.
