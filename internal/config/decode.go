package config

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"os"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/pelletier/go-toml/v2/unstable"
)

// DecodeFile reads the TOML file at path into v: see Decode. A file that
// cannot be read is its *fs.PathError, which names the path.
func DecodeFile(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	return Decode(path, data, v)
}

// Decode reads the TOML document data into v, a pointer to a struct, by the
// struct's toml tags. Keys absent from data keep what v holds. name is the
// file name that errors start with. Every problem of the document is
// reported, each a *DecodeError (joined when there are several); a syntax
// error ends the reading at that point. On error v is unchanged.
func Decode(name string, data []byte, v any) error {
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() || rv.Elem().Kind() != reflect.Struct {
		return fmt.Errorf("config: Decode needs a pointer to a struct, not %T", v)
	}
	if _, err := tableOf(rv.Elem().Type()); err != nil {
		return err
	}
	// Decode into a copy, so that v is unchanged when the document is bad.
	// Values are replaced, never modified in place, so sharing slices with
	// v is safe.
	work := reflect.New(rv.Elem().Type())
	work.Elem().Set(rv.Elem())
	d := &decoder{name: name, data: data, defined: map[string]definition{}}
	d.decode(work.Elem())
	if len(d.errs) > 0 {
		return errors.Join(d.errs...)
	}
	rv.Elem().Set(work.Elem())
	return nil
}

// How a key came to exist, for the rules on defining things twice.
type defKind uint8

const (
	defValue  defKind = iota + 1 // key = value
	defHeader                    // [table]
	defDotted                    // a table made by a dotted key: a.b = 1
	defInline                    // key = { … }
)

type definition struct {
	kind defKind
	at   unstable.Range
}

type decoder struct {
	name    string
	data    []byte
	p       unstable.Parser
	defined map[string]definition
	errs    []error
}

// scope is a table being filled: its struct and its full key.
type scope struct {
	v    reflect.Value // invalid: a table already reported, whose keys are skipped
	path string
}

func (d *decoder) decode(root reflect.Value) {
	if !utf8.Valid(d.data) {
		i := 0
		for i < len(d.data) {
			r, n := utf8.DecodeRune(d.data[i:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			i += n
		}
		d.errs = append(d.errs, d.errorAt(i, "", fmt.Errorf("%w: invalid UTF-8", ErrSyntax)))
		return
	}
	d.p.Reset(d.data)
	cur := scope{v: root}
	for d.p.NextExpression() {
		e := d.p.Expression()
		switch e.Kind {
		case unstable.Table:
			cur = d.header(root, e)
		case unstable.ArrayTable:
			keys, at := keyParts(e.Key())
			d.errs = append(d.errs, d.errorAtRange(at[0], strings.Join(keys, "."), fmt.Errorf("%w: arrays of tables are not used here", ErrType)))
			cur = scope{}
		case unstable.KeyValue:
			if cur.v.IsValid() {
				d.keyValue(cur, e)
			}
		}
	}
	if err := d.p.Error(); err != nil {
		var pe *unstable.ParserError
		if errors.As(err, &pe) {
			d.errs = append(d.errs, d.errorAt(d.offset(pe.Highlight), strings.Join(pe.Key, "."), fmt.Errorf("%w: %s", ErrSyntax, pe.Message)))
		} else {
			d.errs = append(d.errs, d.errorAt(0, "", fmt.Errorf("%w: %v", ErrSyntax, err)))
		}
	}
}

// header handles [a.b] and returns the table it opens.
func (d *decoder) header(root reflect.Value, e *unstable.Node) scope {
	keys, at := keyParts(e.Key())
	s := scope{v: root}
	for i, k := range keys {
		last := i == len(keys)-1
		r := at[i]
		next, ok := d.child(s, k, r)
		if !ok {
			return scope{}
		}
		if !next.v.IsValid() {
			d.errs = append(d.errs, d.errorAtRange(r, next.path, fmt.Errorf("%w: a setting, not a table", ErrType)))
			return scope{}
		}
		def, seen := d.defined[next.path]
		switch {
		case last && seen:
			d.errs = append(d.errs, d.errorAtRange(r, next.path, d.twice(def)))
			return scope{}
		case seen && def.kind == defInline:
			d.errs = append(d.errs, d.errorAtRange(r, next.path, fmt.Errorf("%w: an inline table cannot be extended (%s)", ErrDuplicate, d.where(def.at))))
			return scope{}
		case last:
			d.defined[next.path] = definition{defHeader, r}
		}
		s = next
	}
	return s
}

// child resolves key k in the table of s. The scope returned has an
// invalid value when k is a setting rather than a table; ok is false when k
// is unknown (reported).
func (d *decoder) child(s scope, k string, at unstable.Range) (scope, bool) {
	path := joinKey(s.path, k)
	tb, _ := tableOf(s.v.Type())
	i, found := tb.byKey[k]
	if !found {
		d.errs = append(d.errs, d.errorAtRange(at, path, ErrUnknownKey))
		return scope{}, false
	}
	f := tb.fields[i]
	if !f.table {
		return scope{path: path}, true
	}
	return scope{v: s.v.FieldByIndex(f.index), path: path}, true
}

// keyValue handles key = value (or a dotted key = value) in the table of s.
func (d *decoder) keyValue(s scope, e *unstable.Node) {
	parts, at := keyParts(e.Key())
	for i, k := range parts[:len(parts)-1] {
		r := at[i]
		next, ok := d.child(s, k, r)
		if !ok {
			return
		}
		if !next.v.IsValid() {
			d.errs = append(d.errs, d.errorAtRange(r, next.path, fmt.Errorf("%w: a setting, not a table", ErrType)))
			return
		}
		if def, seen := d.defined[next.path]; seen && def.kind != defDotted {
			d.errs = append(d.errs, d.errorAtRange(r, next.path, d.twice(def)))
			return
		} else if !seen {
			d.defined[next.path] = definition{defDotted, r}
		}
		s = next
	}
	k, leafAt := parts[len(parts)-1], at[len(at)-1]
	path := joinKey(s.path, k)
	tb, _ := tableOf(s.v.Type())
	i, found := tb.byKey[k]
	if !found {
		d.errs = append(d.errs, d.errorAtRange(leafAt, path, ErrUnknownKey))
		return
	}
	f := tb.fields[i]
	if def, seen := d.defined[path]; seen {
		d.errs = append(d.errs, d.errorAtRange(leafAt, path, d.twice(def)))
		return
	}
	val := e.Value()
	valAt := val.Raw
	if valAt.Length == 0 { // arrays carry no range
		valAt = leafAt
	}
	target := s.v.FieldByIndex(f.index)
	if f.table {
		if val.Kind != unstable.InlineTable {
			d.errs = append(d.errs, d.errorAtRange(valAt, path, fmt.Errorf("%w: a table, not %s", ErrType, kindName(val.Kind))))
			return
		}
		d.defined[path] = definition{defInline, leafAt}
		sub := scope{v: target, path: path}
		kids := val.Children()
		for kids.Next() {
			if n := kids.Node(); n.Kind == unstable.KeyValue {
				d.keyValue(sub, n)
			}
		}
		return
	}
	d.defined[path] = definition{defValue, leafAt}
	if err := setValue(target, val); err != nil {
		d.errs = append(d.errs, d.errorAtRange(valAt, path, err))
	}
}

// setValue stores the TOML value n in v.
func setValue(v reflect.Value, n *unstable.Node) error {
	t := v.Type()
	want := func(what string) error {
		return fmt.Errorf("%w: want %s, not %s", ErrType, what, kindName(n.Kind))
	}
	if t == durationType {
		if n.Kind != unstable.String {
			return want(`a duration string such as "10m"`)
		}
		dur, err := time.ParseDuration(string(n.Data))
		if err != nil {
			return fmt.Errorf("%w: want a duration such as \"10m\" or \"1m30s\", not %q", ErrType, n.Data)
		}
		v.SetInt(int64(dur))
		return nil
	}
	switch t.Kind() {
	case reflect.String:
		if n.Kind != unstable.String {
			return want("a string")
		}
		v.SetString(string(n.Data))
	case reflect.Bool:
		if n.Kind != unstable.Bool {
			return want("true or false")
		}
		v.SetBool(string(n.Data) == "true")
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n.Kind != unstable.Integer {
			return want("an integer")
		}
		x, err := parseInteger(n.Data)
		if err != nil {
			return fmt.Errorf("%w: %s does not fit in 64 bits", ErrRange, n.Data)
		}
		if v.OverflowInt(x) {
			bits := t.Bits()
			return fmt.Errorf("%w: %d is not between %d and %d", ErrRange, x, int64(-1)<<(bits-1), int64(1)<<(bits-1)-1)
		}
		v.SetInt(x)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		if n.Kind != unstable.Integer {
			return want("an integer")
		}
		max := uint64(math.MaxUint64) >> (64 - t.Bits())
		if len(n.Data) > 0 && n.Data[0] == '-' {
			return fmt.Errorf("%w: %s is not between 0 and %d", ErrRange, n.Data, max)
		}
		x, err := parseUnsigned(n.Data)
		if err != nil {
			return fmt.Errorf("%w: %s does not fit in 64 bits", ErrRange, n.Data)
		}
		if v.OverflowUint(x) {
			return fmt.Errorf("%w: %d is not between 0 and %d", ErrRange, x, max)
		}
		v.SetUint(x)
	case reflect.Float32, reflect.Float64:
		var f float64
		switch n.Kind {
		case unstable.Float:
			var err error
			if f, err = parseFloat(n.Data); err != nil {
				return fmt.Errorf("%w: %s does not fit in 64 bits", ErrRange, n.Data)
			}
		case unstable.Integer:
			x, err := parseInteger(n.Data)
			if err != nil {
				return fmt.Errorf("%w: %s does not fit in 64 bits", ErrRange, n.Data)
			}
			f = float64(x)
		default:
			return want("a number")
		}
		if !math.IsInf(f, 0) && !math.IsNaN(f) && v.OverflowFloat(f) {
			return fmt.Errorf("%w: %g does not fit in %d bits", ErrRange, f, t.Bits())
		}
		v.SetFloat(f)
	case reflect.Slice: // of strings: see isLeaf
		if n.Kind != unstable.Array {
			return want("an array of strings")
		}
		out := reflect.MakeSlice(t, 0, 4)
		it := n.Children()
		for it.Next() {
			c := it.Node()
			if c.Kind == unstable.Comment {
				continue
			}
			if c.Kind != unstable.String {
				return fmt.Errorf("%w: want an array of strings, not one holding %s", ErrType, kindName(c.Kind))
			}
			out = reflect.Append(out, reflect.ValueOf(string(c.Data)).Convert(t.Elem()))
		}
		v.Set(out)
	default:
		return fmt.Errorf("config: type %s cannot be a setting", t) // refused by tableOf
	}
	return nil
}

// parseInteger reads a TOML integer the parser accepted: decimal with an
// optional sign, or 0x, 0o, 0b; underscores between digits.
func parseInteger(b []byte) (int64, error) {
	s, base := integerBase(strings.ReplaceAll(string(b), "_", ""))
	return strconv.ParseInt(s, base, 64)
}

// parseUnsigned reads a TOML integer without a minus sign into the whole
// uint64 range (TOML's own integers stop at 2^63-1; an unsigned setting
// may hold more, and Encode writes it so).
func parseUnsigned(b []byte) (uint64, error) {
	s, base := integerBase(strings.TrimPrefix(strings.ReplaceAll(string(b), "_", ""), "+"))
	return strconv.ParseUint(s, base, 64)
}

// integerBase splits a 0x, 0o or 0b prefix off a TOML integer.
func integerBase(s string) (string, int) {
	if len(s) > 2 && s[0] == '0' {
		switch s[1] {
		case 'x':
			return s[2:], 16
		case 'o':
			return s[2:], 8
		case 'b':
			return s[2:], 2
		}
	}
	return s, 10
}

// parseFloat reads a TOML float the parser accepted.
func parseFloat(b []byte) (float64, error) {
	s := strings.ReplaceAll(string(b), "_", "")
	switch strings.TrimLeft(s, "+-") {
	case "inf":
		if strings.HasPrefix(s, "-") {
			return math.Inf(-1), nil
		}
		return math.Inf(1), nil
	case "nan":
		return math.NaN(), nil
	}
	return strconv.ParseFloat(s, 64)
}

func kindName(k unstable.Kind) string {
	switch k {
	case unstable.String:
		return "a string"
	case unstable.Bool:
		return "a boolean"
	case unstable.Integer:
		return "an integer"
	case unstable.Float:
		return "a float"
	case unstable.Array:
		return "an array"
	case unstable.InlineTable:
		return "an inline table"
	case unstable.LocalDate, unstable.LocalTime, unstable.LocalDateTime, unstable.DateTime:
		return "a date or time"
	}
	return k.String()
}

func joinKey(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

// keyParts returns the parts of a key (at least one) and their ranges.
func keyParts(it unstable.Iterator) ([]string, []unstable.Range) {
	var parts []string
	var at []unstable.Range
	for it.Next() {
		n := it.Node()
		parts = append(parts, string(n.Data))
		at = append(at, n.Raw)
	}
	return parts, at
}

func (d *decoder) twice(first definition) error {
	return fmt.Errorf("%w (first at %s)", ErrDuplicate, d.where(first.at))
}

func (d *decoder) where(r unstable.Range) string {
	line, col := d.position(int(r.Offset))
	return fmt.Sprintf("line %d, column %d", line, col)
}

func (d *decoder) errorAtRange(r unstable.Range, key string, err error) error {
	return d.errorAt(int(r.Offset), key, err)
}

func (d *decoder) errorAt(offset int, key string, err error) error {
	line, col := d.position(offset)
	return &DecodeError{File: d.name, Line: line, Column: col, Key: key, Err: err}
}

// position returns the line and column of a byte offset of the document.
func (d *decoder) position(offset int) (line, col int) {
	offset = min(max(offset, 0), len(d.data))
	before := d.data[:offset]
	line = 1 + bytes.Count(before, []byte{'\n'})
	col = offset - (bytes.LastIndexByte(before, '\n') + 1) + 1
	return line, col
}

// offset returns where b, a slice of the document the parser highlighted,
// starts; 0 when b is not part of the document.
func (d *decoder) offset(b []byte) int {
	off := cap(d.data) - cap(b)
	if b == nil || off < 0 || off > len(d.data) {
		return 0
	}
	return off
}
