package sinks

import (
	"fmt"
	"math"
	"strings"
	"text/template"

	"github.com/Masterminds/sprig/v3"
)

// MaxRenderBytes bounds what one render of a template or layout may
// produce, and what one template function may allocate: past it the
// render fails as a template error for that event alone (dead-lettered and
// counted), instead of the process running out of memory and then
// crash-looping on the re-listed event. A payload is a few KB; the largest
// any receiver accepts (Kinesis) is 1 MiB.
const MaxRenderBytes = 1 << 20

// maxListItems bounds the lists until, untilStep and seq make: one int
// each, so 8 bytes of memory at least.
const maxListItems = MaxRenderBytes / 8

// refusedFuncs are sprig functions a payload has no use for and whose
// cost a template controls: key and certificate generation, bcrypt and
// scrypt. A template calling one fails at load ("function not defined").
var refusedFuncs = []string{
	"env", "expandenv", "getHostByName", // secrets and DNS
	"genPrivateKey", "genCA", "genCAWithKey", "genSelfSignedCert", "genSelfSignedCertWithKey",
	"genSignedCert", "genSignedCertWithKey", "bcrypt", "htpasswd", "derivePassword",
}

// funcMap is sprig's hermetic function map, plus sprig's clock and random
// helpers (they read no secrets), minus refusedFuncs, with every function
// that allocates what its arguments ask for checked against
// MaxRenderBytes first. Built once.
var funcMap = func() template.FuncMap {
	fm := sprig.HermeticTxtFuncMap()
	all := sprig.TxtFuncMap()
	for _, name := range []string{
		"now", "date", "dateInZone", "date_in_zone", "dateModify", "date_modify",
		"htmlDate", "htmlDateInZone", "uuidv4",
		"randAlphaNum", "randAlpha", "randAscii", "randNumeric",
	} {
		if f, ok := all[name]; ok {
			fm[name] = f
		}
	}
	for _, name := range refusedFuncs {
		delete(fm, name)
	}
	for name, f := range boundedFuncs(all) {
		fm[name] = f
	}
	return fm
}()

// boundedFuncs wraps sprig's functions that allocate before they return
// (strings.Repeat, the list builders, the random strings) with a check of
// the size they would make.
func boundedFuncs(sprigFuncs template.FuncMap) template.FuncMap {
	repeat := sprigFuncs["repeat"].(func(int, string) string)
	untilStep := sprigFuncs["untilStep"].(func(int, int, int) []int)
	until := sprigFuncs["until"].(func(int) []int)
	seq := sprigFuncs["seq"].(func(...int) string)
	indent := sprigFuncs["indent"].(func(int, string) string)
	nindent := sprigFuncs["nindent"].(func(int, string) string)
	fm := template.FuncMap{
		"repeat": func(count int, s string) (string, error) {
			if err := checkSize("repeat", float64(count)*float64(len(s))); err != nil {
				return "", err
			}
			return repeat(count, s), nil
		},
		"until": func(count int) ([]int, error) {
			if err := checkItems("until", float64(count)); err != nil {
				return nil, err
			}
			return until(count), nil
		},
		"untilStep": func(start, stop, step int) ([]int, error) {
			if err := checkItems("untilStep", span(start, stop, step)); err != nil {
				return nil, err
			}
			return untilStep(start, stop, step), nil
		},
		"seq": func(params ...int) (string, error) {
			start, end, step := 1, 0, 1
			switch len(params) {
			case 1:
				end = params[0]
			case 2:
				start, end = params[0], params[1]
			case 3:
				start, step, end = params[0], params[1], params[2]
			}
			if err := checkItems("seq", span(start, end, step)); err != nil {
				return "", err
			}
			return seq(params...), nil
		},
		"indent": func(spaces int, s string) (string, error) {
			if err := checkSize("indent", float64(spaces)*float64(strings.Count(s, "\n")+1)+float64(len(s))); err != nil {
				return "", err
			}
			return indent(spaces, s), nil
		},
		"nindent": func(spaces int, s string) (string, error) {
			if err := checkSize("nindent", float64(spaces)*float64(strings.Count(s, "\n")+1)+float64(len(s))); err != nil {
				return "", err
			}
			return nindent(spaces, s), nil
		},
		"replace": func(old, new, src string) (string, error) {
			n := strings.Count(src, old) // len(src)+1 for ""
			if err := checkSize("replace", float64(len(src))+float64(n)*float64(len(new))); err != nil {
				return "", err
			}
			return strings.ReplaceAll(src, old, new), nil
		},
	}
	for _, name := range []string{"randAlphaNum", "randAlpha", "randAscii", "randNumeric"} {
		f := sprigFuncs[name].(func(int) string)
		fm[name] = func(count int) (string, error) {
			if err := checkSize(name, float64(count)); err != nil {
				return "", err
			}
			return f(count), nil
		}
	}
	return fm
}

// span is how many items a range from start towards stop by step has, at
// most (0 when step goes the other way).
func span(start, stop, step int) float64 {
	if step == 0 {
		return 0
	}
	return math.Abs(float64(stop)-float64(start)) / math.Abs(float64(step))
}

func checkSize(fn string, bytes float64) error {
	if bytes > MaxRenderBytes {
		return fmt.Errorf("%s would make %.0f bytes, over the %d a render may (MaxRenderBytes)", fn, bytes, MaxRenderBytes)
	}
	return nil
}

func checkItems(fn string, items float64) error {
	if math.Abs(items) > maxListItems {
		return fmt.Errorf("%s would make %.0f items, over the %d a render may", fn, math.Abs(items), maxListItems)
	}
	return nil
}
