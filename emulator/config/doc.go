// Package config is the resolved runtime configuration of one lab's emulator:
// the only contract between lab/ (which builds it from a topology file) and the
// emulator process (which loads it from JSON). Everything in it is already
// resolved — addresses, MACs, names, defaults — so the emulator makes no
// decisions about the topology, it only compiles this into lookup structures.
//
// The trade-off: the snapshot repeats facts the topology file states more
// compactly, in exchange for an emulator that never needs to know YAML, the
// file format's defaults or its validation rules.
package config
