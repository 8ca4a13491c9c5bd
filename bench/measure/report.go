package measure

import (
	"io"
	"os"
	"regexp"
	"strconv"
)

var doneJobsRE = regexp.MustCompile(`"done_jobs":(\d+)`)

// DoneJobs reads done_jobs from the head of the results.json at path
// without reading the rest, which is tens of megabytes at 100k crates; -1
// when the file or the field cannot be read.
func DoneJobs(path string) int {
	f, err := os.Open(path)
	if err != nil {
		return -1
	}
	defer f.Close()
	head := make([]byte, 1024)
	n, _ := io.ReadFull(f, head)
	m := doneJobsRE.FindSubmatch(head[:n])
	if m == nil {
		return -1
	}
	done, _ := strconv.Atoi(string(m[1]))
	return done
}
