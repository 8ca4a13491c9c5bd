package results

import (
	"encoding/json"
	"fmt"
	"io"
)

// Read reads a results.json from r one crate at a time, so that an
// experiment of many crates is never decoded into memory whole: each
// entry of "crates" is handed to crate as it comes, decoded and as the
// bytes it was read from; the rest of the file, its header, is returned
// once read. A file of another version than FileVersion is refused.
func Read(r io.Reader, crate func(c CrateResult, raw json.RawMessage) error) (*File, error) {
	dec := json.NewDecoder(r)
	if err := expectDelim(dec, '{'); err != nil {
		return nil, err
	}
	fields := make(map[string]json.RawMessage)
	for dec.More() {
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		name, _ := tok.(string)
		if name != "crates" {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("field %q: %w", name, err)
			}
			fields[name] = raw
			continue
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, fmt.Errorf("crates: %w", err)
		}
		if tok == nil {
			continue // null, as encoding/json writes a File without crates
		}
		if tok != json.Delim('[') {
			return nil, fmt.Errorf("crates: found %v, want %q", tok, '[')
		}
		for i := 0; dec.More(); i++ {
			var raw json.RawMessage
			if err := dec.Decode(&raw); err != nil {
				return nil, fmt.Errorf("crate %d: %w", i, err)
			}
			var c CrateResult
			if err := json.Unmarshal(raw, &c); err != nil {
				return nil, fmt.Errorf("crate %d: %w", i, err)
			}
			if err := crate(c, raw); err != nil {
				return nil, fmt.Errorf("crate %d: %w", i, err)
			}
		}
		if err := expectDelim(dec, ']'); err != nil {
			return nil, fmt.Errorf("crates: %w", err)
		}
	}
	data, err := json.Marshal(fields)
	if err != nil {
		return nil, err
	}
	var head File
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("header: %w", err)
	}
	if head.V != FileVersion {
		return nil, fmt.Errorf("version %d, want %d", head.V, FileVersion)
	}
	return &head, nil
}

func expectDelim(dec *json.Decoder, d json.Delim) error {
	tok, err := dec.Token()
	if err != nil {
		return err
	}
	if tok != d {
		return fmt.Errorf("found %v, want %q", tok, d)
	}
	return nil
}
