package config

import (
	"fmt"
	"math"
	"reflect"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// commentWidth is where doc comments are wrapped.
const commentWidth = 76

// Encode writes v (a struct or a pointer to one) as a commented TOML file.
// Each setting is a key = value line under its doc tag, wrapped as a
// comment, ending in "Default X." with X the field's value in defaults (of
// v's type; nil leaves the sentence out). A table holds its settings first,
// in struct order, then its sub-tables, each a [section] under its own doc
// comment if it has one. Deprecated keys and toml:"-" fields are not
// written. A setting without a doc tag is an error, so that every key in a
// file says what it is.
func Encode(v, defaults any) ([]byte, error) {
	rv, err := structValue(v, "Encode's value")
	if err != nil {
		return nil, err
	}
	var dv reflect.Value
	if defaults != nil {
		if dv, err = structValue(defaults, "Encode's defaults"); err != nil {
			return nil, err
		}
		if dv.Type() != rv.Type() {
			return nil, fmt.Errorf("config: Encode's defaults are a %s, not a %s", dv.Type(), rv.Type())
		}
	}
	e := &encoder{}
	if err := e.table("", "", rv, dv); err != nil {
		return nil, err
	}
	return []byte(e.b.String()), nil
}

type encoder struct {
	b strings.Builder
}

func (e *encoder) table(path, doc string, v, d reflect.Value) error {
	tb, err := tableOf(v.Type())
	if err != nil {
		return err
	}
	if path != "" {
		if !writes(tb) {
			return nil
		}
		if e.b.Len() > 0 {
			e.b.WriteByte('\n')
		}
		e.comment(doc)
		fmt.Fprintf(&e.b, "[%s]\n", path)
	}
	for _, f := range tb.fields {
		if f.table || f.deprecated {
			continue
		}
		key := joinKey(path, f.key)
		if f.doc == "" {
			return fmt.Errorf("config: setting %s has no doc tag", key)
		}
		text := f.doc
		if d.IsValid() {
			// glue keeps "Default" on the line of the value's start.
			text += " Default" + glue + formatValue(d.FieldByIndex(f.index)) + "."
		}
		e.comment(text)
		fmt.Fprintf(&e.b, "%s = %s\n", formatKey(f.key), formatValue(v.FieldByIndex(f.index)))
	}
	for _, f := range tb.fields {
		if !f.table || f.deprecated {
			continue
		}
		var sub reflect.Value
		if d.IsValid() {
			sub = d.FieldByIndex(f.index)
		}
		if err := e.table(joinKey(path, formatKey(f.key)), f.doc, v.FieldByIndex(f.index), sub); err != nil {
			return err
		}
	}
	return nil
}

// writes reports whether a table has anything to write.
func writes(tb *table) bool {
	for _, f := range tb.fields {
		if f.deprecated {
			continue
		}
		if !f.table {
			return true
		}
		if sub, err := tableOf(f.typ); err == nil && writes(sub) {
			return true
		}
	}
	return false
}

// glue joins two words that comment keeps on one line; quote escapes
// control characters, so no value holds it.
const glue = "\x00"

// comment writes text as # lines of at most commentWidth columns (a word
// longer than that gets a line of its own).
func (e *encoder) comment(text string) {
	line := "#"
	for _, w := range strings.Fields(text) {
		w = strings.ReplaceAll(w, glue, " ")
		if len(line) > 1 && len(line)+1+len(w) > commentWidth {
			e.b.WriteString(line)
			e.b.WriteByte('\n')
			line = "#"
		}
		line += " " + w
	}
	if len(line) > 1 {
		e.b.WriteString(line)
		e.b.WriteByte('\n')
	}
}

func formatKey(k string) string {
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-' || c == '_') {
			return quote(k)
		}
	}
	if k == "" {
		return `""`
	}
	return k
}

// formatValue writes a setting's value as TOML.
func formatValue(v reflect.Value) string {
	if v.Type() == durationType {
		return quote(FormatDuration(time.Duration(v.Int())))
	}
	switch v.Kind() {
	case reflect.String:
		return quote(v.String())
	case reflect.Bool:
		return strconv.FormatBool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.FormatInt(v.Int(), 10)
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return strconv.FormatUint(v.Uint(), 10)
	case reflect.Float32, reflect.Float64:
		return formatFloat(v.Float(), v.Type().Bits())
	case reflect.Slice:
		parts := make([]string, v.Len())
		for i := range parts {
			parts[i] = quote(v.Index(i).String())
		}
		return "[" + strings.Join(parts, ", ") + "]"
	}
	panic(fmt.Sprintf("config: no TOML form for %s", v.Type())) // refused by tableOf
}

// formatFloat writes f so that TOML reads it back as a float.
func formatFloat(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case math.IsInf(f, 1):
		return "inf"
	case math.IsInf(f, -1):
		return "-inf"
	}
	s := strconv.FormatFloat(f, 'g', -1, bits)
	if !strings.ContainsAny(s, ".e") {
		s += ".0"
	}
	return s
}

// FormatDuration writes d as time.Duration.String does, without the zero
// units it ends in: "10m" rather than "10m0s", "1h" rather than "1h0m0s".
// time.ParseDuration reads it back.
func FormatDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = s[:len(s)-2]
	}
	if strings.HasSuffix(s, "h0m") {
		s = s[:len(s)-2]
	}
	return s
}

// quote writes s as a TOML basic string. Bytes that are not UTF-8 (which
// no TOML file can hold) become U+FFFD.
func quote(s string) string {
	s = strings.ToValidUTF8(s, string(utf8.RuneError))
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"':
			b.WriteString(`\"`)
		case '\\':
			b.WriteString(`\\`)
		case '\b':
			b.WriteString(`\b`)
		case '\t':
			b.WriteString(`\t`)
		case '\n':
			b.WriteString(`\n`)
		case '\f':
			b.WriteString(`\f`)
		case '\r':
			b.WriteString(`\r`)
		default:
			if r < 0x20 || r == 0x7f {
				fmt.Fprintf(&b, `\u%04X`, r)
			} else {
				b.WriteRune(r)
			}
		}
	}
	b.WriteByte('"')
	return b.String()
}
