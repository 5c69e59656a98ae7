package config

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
)

// What went wrong with a key of a document; a *DecodeError wraps one of
// them. They carry no package prefix: a DecodeError already starts with the
// file name.
var (
	ErrSyntax     = errors.New("not valid TOML")
	ErrUnknownKey = errors.New("unknown key")
	ErrType       = errors.New("wrong type")
	ErrRange      = errors.New("out of range")
	ErrDuplicate  = errors.New("defined twice")
)

// DecodeError is a problem of a document at a position: a syntax error, or a
// key that is unknown, of the wrong type, out of range or set twice.
type DecodeError struct {
	File   string
	Line   int // from 1
	Column int // from 1, in bytes
	// Key is the full dotted key ("p2p.fan_out"); empty for a syntax error
	// outside any key.
	Key string
	Err error
}

func (e *DecodeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s:%d:%d: ", e.File, e.Line, e.Column)
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

func (e *DecodeError) Unwrap() error { return e.Err }

// FieldError is a problem of one setting, keyed by its TOML key relative to
// the section that Validate sees ("fan_out"); Prefix makes the key full.
type FieldError struct {
	Key string
	Err error
}

// Errorf returns a *FieldError for key with a message formatted as by
// fmt.Errorf (so %w wraps).
func Errorf(key, format string, args ...any) error {
	return &FieldError{Key: key, Err: fmt.Errorf(format, args...)}
}

func (e *FieldError) Error() string { return e.Key + ": " + e.Err.Error() }

func (e *FieldError) Unwrap() error { return e.Err }

// FieldErrors returns every *FieldError of an error tree (followed through
// Unwrap() error and Unwrap() []error, not into a FieldError's own Err), in
// the order errors.Join and fmt.Errorf list them.
func FieldErrors(err error) []*FieldError {
	var out []*FieldError
	var walk func(error)
	walk = func(err error) {
		switch e := err.(type) {
		case nil:
		case *FieldError:
			out = append(out, e)
		case interface{ Unwrap() []error }:
			for _, c := range e.Unwrap() {
				walk(c)
			}
		case interface{ Unwrap() error }:
			walk(e.Unwrap())
		}
	}
	walk(err)
	return out
}

// Prefix returns err with section put in front of the key of every
// *FieldError in its tree ("fan_out" becomes "p2p.fan_out"). The tree keeps
// its shape, so errors.Is and errors.As find what they found before (a
// package's sentinel, a field error), and its message keeps its wording with
// the keys made full. A part of the tree holding no field error is kept and
// its message prefixed with "section: ", unless it already starts so (a
// package's own sentinel such as "p2p: invalid config"). Prefix(s, nil) is
// nil.
func Prefix(section string, err error) error {
	if err == nil {
		return nil
	}
	return prefix(section, err)
}

func prefix(section string, err error) error {
	if fe, ok := err.(*FieldError); ok {
		key := section
		if fe.Key != "" {
			key += "." + fe.Key
		}
		return &FieldError{Key: key, Err: fe.Err}
	}
	if len(FieldErrors(err)) == 0 {
		if strings.HasPrefix(err.Error(), section+": ") {
			return err
		}
		return &sectioned{section: section, err: err}
	}
	var old []error
	switch e := err.(type) {
	case interface{ Unwrap() []error }:
		old = e.Unwrap()
	case interface{ Unwrap() error }:
		old = []error{e.Unwrap()}
	}
	r := &rewritten{orig: err}
	for _, c := range old {
		if c != nil {
			r.errs = append(r.errs, prefix(section, c))
		}
	}
	r.msg = substitute(err.Error(), old, r.errs)
	return r
}

// substitute replaces, in order, each old child's message in msg with its
// new one; when msg does not show them in order, it is the new messages one
// per line.
func substitute(msg string, old, new []error) string {
	var b strings.Builder
	rest := msg
	j := 0
	for _, o := range old {
		if o == nil {
			continue
		}
		i := strings.Index(rest, o.Error())
		if i < 0 {
			b.Reset()
			for k, n := range new {
				if k > 0 {
					b.WriteByte('\n')
				}
				b.WriteString(n.Error())
			}
			return b.String()
		}
		b.WriteString(rest[:i])
		b.WriteString(new[j].Error())
		rest = rest[i+len(o.Error()):]
		j++
	}
	b.WriteString(rest)
	return b.String()
}

// sectioned is an error of a section that is not about one key.
type sectioned struct {
	section string
	err     error
}

func (e *sectioned) Error() string { return e.section + ": " + e.err.Error() }

func (e *sectioned) Unwrap() error { return e.err }

// rewritten is a node of an error tree whose children were prefixed. It
// still answers errors.Is and errors.As for the node it replaces.
type rewritten struct {
	orig error
	msg  string
	errs []error
}

func (e *rewritten) Error() string { return e.msg }

func (e *rewritten) Unwrap() []error { return e.errs }

func (e *rewritten) Is(target error) bool {
	if t := reflect.TypeOf(target); t != nil && t.Comparable() && reflect.TypeOf(e.orig).Comparable() && e.orig == target {
		return true
	}
	if x, ok := e.orig.(interface{ Is(error) bool }); ok {
		return x.Is(target)
	}
	return false
}

func (e *rewritten) As(target any) bool {
	if x, ok := e.orig.(interface{ As(any) bool }); ok && x.As(target) {
		return true
	}
	tv := reflect.ValueOf(target)
	if tv.Kind() != reflect.Pointer || tv.IsNil() {
		return false
	}
	if ov := reflect.ValueOf(e.orig); ov.Type().AssignableTo(tv.Elem().Type()) {
		tv.Elem().Set(ov)
		return true
	}
	return false
}
