package config

import (
	"fmt"
	"reflect"
	"strings"
	"sync"
	"time"
)

var durationType = reflect.TypeOf(time.Duration(0))

// field is one key of a table: a setting or a sub-table.
type field struct {
	key        string
	index      []int // from the table's struct, through flattened embeddings
	typ        reflect.Type
	doc        string
	deprecated bool
	table      bool // a nested struct: a [section]
}

// table is the keys of one struct type, flattened, in struct order.
type table struct {
	fields []field
	byKey  map[string]int
}

var tables sync.Map // reflect.Type → *table or error

// tableOf returns the keys of struct type t, or an error naming the field
// whose tags or type cannot be mapped.
func tableOf(t reflect.Type) (*table, error) {
	if v, ok := tables.Load(t); ok {
		if err, bad := v.(error); bad {
			return nil, err
		}
		return v.(*table), nil
	}
	tb, err := buildTable(t)
	if err != nil {
		tables.Store(t, err)
		return nil, err
	}
	tables.Store(t, tb)
	return tb, nil
}

// buildTable maps a struct type; a struct cannot contain itself by value,
// and pointers, maps and other slices are refused, so it ends.
func buildTable(t reflect.Type) (*table, error) {
	tb := &table{byKey: map[string]int{}}
	add := func(f field, where string) error {
		if _, dup := tb.byKey[f.key]; dup {
			return fmt.Errorf("config: %s: key %q is defined twice (%s)", t, f.key, where)
		}
		tb.byKey[f.key] = len(tb.fields)
		tb.fields = append(tb.fields, f)
		return nil
	}
	for i := range t.NumField() {
		sf := t.Field(i)
		tag, hasTag := sf.Tag.Lookup("toml")
		name, opts, _ := strings.Cut(tag, ",")
		if name == "-" && opts == "" {
			continue
		}
		if sf.Anonymous && !hasTag {
			ft := sf.Type
			if ft.Kind() != reflect.Struct {
				return nil, fmt.Errorf("config: %s.%s: only a struct can be embedded without a toml tag", t, sf.Name)
			}
			inner, err := tableOf(ft)
			if err != nil {
				return nil, err
			}
			for _, f := range inner.fields {
				f.index = append([]int{i}, f.index...)
				if err := add(f, "embedded "+ft.String()); err != nil {
					return nil, err
				}
			}
			continue
		}
		if !sf.IsExported() {
			continue
		}
		if !hasTag || name == "" {
			return nil, fmt.Errorf("config: %s.%s has no toml key (tag it `toml:\"-\"` to leave it out)", t, sf.Name)
		}
		f := field{key: name, index: []int{i}, typ: sf.Type, doc: strings.TrimSpace(sf.Tag.Get("doc"))}
		for _, o := range strings.Split(opts, ",") {
			switch o {
			case "":
			case "deprecated":
				f.deprecated = true
			default:
				return nil, fmt.Errorf("config: %s.%s: unknown toml tag option %q", t, sf.Name, o)
			}
		}
		switch {
		case sf.Type.Kind() == reflect.Struct:
			if _, err := tableOf(sf.Type); err != nil {
				return nil, err
			}
			f.table = true
		case !isLeaf(sf.Type):
			return nil, fmt.Errorf("config: %s.%s: type %s cannot be a setting", t, sf.Name, sf.Type)
		}
		if err := add(f, sf.Name); err != nil {
			return nil, err
		}
	}
	return tb, nil
}

// isLeaf reports whether t is a type a setting may have.
func isLeaf(t reflect.Type) bool {
	if t == durationType {
		return true
	}
	switch t.Kind() {
	case reflect.String, reflect.Bool,
		reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64,
		reflect.Float32, reflect.Float64:
		return true
	case reflect.Slice:
		return t.Elem().Kind() == reflect.String
	}
	return false
}

// structValue returns the struct v points to, or an error.
func structValue(v any, what string) (reflect.Value, error) {
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Pointer && !rv.IsNil() {
		rv = rv.Elem()
	}
	if rv.Kind() != reflect.Struct {
		return reflect.Value{}, fmt.Errorf("config: %s must be a struct or a pointer to one, not %T", what, v)
	}
	return rv, nil
}
