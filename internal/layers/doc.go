// Package layers holds the test that keeps Embassy's imports running one
// way: from the wiring down through serving and the engines to the model.
// ARCHITECTURE.md at the repository root draws the layers; table_test.go
// says which layer each package is in, and which imports against the
// direction remain, with what removes each.
package layers
