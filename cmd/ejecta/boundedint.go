package main

import (
	"fmt"
	"strconv"
)

// boundedInt is an int flag that refuses values outside [min, max] when it
// is parsed, from the command line or (through checkEnv) the environment,
// so a bad value is a usage error before anything connects. Components
// often take 0 for "default", which would hide a mistaken 0.
type boundedInt struct {
	v        *int
	min, max int
}

func (b boundedInt) String() string {
	if b.v == nil {
		return "0"
	}
	return strconv.Itoa(*b.v)
}

func (b boundedInt) Set(s string) error {
	n, err := strconv.Atoi(s)
	if err != nil {
		return fmt.Errorf("%q: want a whole number from %d to %d", s, b.min, b.max)
	}
	if n < b.min || n > b.max {
		return fmt.Errorf("%d: want %d to %d", n, b.min, b.max)
	}
	*b.v = n
	return nil
}

// Type is "int" so that checkEnv parses the flag's environment variable.
func (b boundedInt) Type() string { return "int" }
