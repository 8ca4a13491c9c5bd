package workspace

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// DirName is the name of a job dir of builder id: "<id>-<slot>-<attempt>-<random>". The random part keeps a
// retried attempt from meeting a dir a slow removal has not finished with.
func DirName(id string, slot, attempt int) (string, error) {
	var r [4]byte
	if _, err := rand.Read(r[:]); err != nil {
		return "", fmt.Errorf("random job dir suffix: %w", err)
	}
	return fmt.Sprintf("%s-%d-%d-%s", id, slot, attempt, hex.EncodeToString(r[:])), nil
}

// IsDirOf reports whether name is a job dir of builder id. Builder IDs may
// contain '-', so "a-1-0-3-…" belongs to builder "a-1", not to "a": exactly
// three tokens must follow the ID.
func IsDirOf(name, id string) bool {
	rest, ok := strings.CutPrefix(name, id+"-")
	if !ok {
		return false
	}
	toks := strings.Split(rest, "-")
	if len(toks) != 3 {
		return false
	}
	for _, t := range toks[:2] {
		if _, err := strconv.ParseUint(t, 10, 32); err != nil {
			return false
		}
	}
	_, err := hex.DecodeString(toks[2])
	return err == nil && len(toks[2]) == 8
}

// RemoveDirs removes every job dir of builder id under workDir, those a
// crashed builder with the same ID left. One it
// cannot remove is left, its error joined to the others: a job dir a
// build made hard to remove must not keep the builder from starting.
func RemoveDirs(workDir, id string) (int, error) {
	ents, err := os.ReadDir(workDir)
	if err != nil {
		return 0, fmt.Errorf("list %s: %w", workDir, err)
	}
	n := 0
	var errs []error
	for _, e := range ents {
		if !e.IsDir() || !IsDirOf(e.Name(), id) {
			continue
		}
		if err := RemoveTree(filepath.Join(workDir, e.Name())); err != nil {
			errs = append(errs, fmt.Errorf("remove job dir: %w", err))
			continue
		}
		n++
	}
	return n, errors.Join(errs...)
}
