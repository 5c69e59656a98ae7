// Package config owns the TOML form of settings: strict decoding of a TOML
// document into a struct, encoding a commented TOML file from the same
// struct, and the typed field error that a package's Validate reports.
//
// A struct says how it is written with tags:
//
//	type Config struct {
//		Shards   int           `toml:"shards" doc:"Sender shards, each with its own lock."`
//		Lifetime time.Duration `toml:"queue_lifetime" doc:"How long a transaction may wait."`
//		Old      int           `toml:"old_name,deprecated" doc:"Replaced by shards."`
//		Cache    CacheConfig   `toml:"cache" doc:"The account cache."`
//		Internal int           `toml:"-"`
//		GossipConfig           // anonymous: its keys sit directly in this table
//	}
//
// Every exported field carries a toml tag: a key, or "-" to leave it out of
// the file. A struct field is a table ([cache]); an anonymous embedded
// struct without a tag is flattened into its parent's table, so a package's
// Config can be embedded in a section of a larger file and keep its keys
// there. The values are string, bool, signed and unsigned integers
// (range-checked), floats (an integer is accepted for a float), time.Duration
// written as a Go duration string such as "10m", and []string. The option
// "deprecated" makes a key that is read but no longer written.
//
// Decode is strict: an unknown key, a wrong type, an integer out of range and
// a key set twice are errors (*DecodeError) naming the file, line, column and
// the full dotted key; every such problem of a document is reported at once.
// Keys absent keep what the struct already holds, so decoding over a
// package's DefaultConfig fills the defaults. On error the struct is left
// unchanged.
//
// Encode writes every setting as an uncommented key = value line under its
// doc comment, ending in "Default X." taken from a defaults value; sections
// follow the nested structs. The output depends only on the values, so it
// can be compared byte for byte.
//
// FieldError is what Validate methods report, keyed relative to their own
// section ("fan_out"); Prefix puts a section in front of every field error of
// an error tree ("p2p.fan_out"), so that one rule per setting, written in its
// package, is reported under the key the operator wrote.
//
// This package imports nothing of this module, so that every package can
// describe its own settings. It does not validate values beyond their types:
// that is each package's Validate.
package config
