package vpc

import (
	"encoding/json"
	"os"
	"strconv"
	"strings"

	"github.com/gwlb-lab/gwlb-lab/lab"
	. "github.com/onsi/gomega"
)

func decodeStatus(s string) *lab.Status {
	var st lab.Status
	Expect(json.Unmarshal([]byte(s), &st)).To(Succeed())
	return &st
}

// isZombie reports whether pid has exited but not been reaped (it then holds
// its PID but runs nothing).
func isZombie(pid int) bool {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i > 0 && i+2 < len(s) && s[i+2] == 'Z'
}
