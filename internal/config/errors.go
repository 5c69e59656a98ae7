package config

import (
	"errors"
	"fmt"
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

// Prefix returns what a Validate returned with section put in front of
// the key of every *FieldError ("fan_out" becomes "p2p.fan_out"): field
// errors and errors.Join of them keep their shape; any other error is
// kept, its message prefixed with "section: ". Prefix(s, nil) is nil.
func Prefix(section string, err error) error {
	switch e := err.(type) {
	case nil:
		return nil
	case *FieldError:
		key := section
		if e.Key != "" {
			key += "." + e.Key
		}
		return &FieldError{Key: key, Err: e.Err}
	case interface{ Unwrap() []error }:
		var errs []error
		for _, c := range e.Unwrap() {
			errs = append(errs, Prefix(section, c))
		}
		return errors.Join(errs...)
	}
	return &sectioned{section: section, err: err}
}

// sectioned is an error of a section that is not about one key.
type sectioned struct {
	section string
	err     error
}

func (e *sectioned) Error() string { return e.section + ": " + e.err.Error() }

func (e *sectioned) Unwrap() error { return e.err }
