package resource

import (
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// DecodePath reads a file, or every *.yaml / *.yml file below a directory
// (recursively, sorted by path), and decodes them all; errors from all
// files are collected, and no resources are returned when there is any.
func DecodePath(path string) ([]*Resource, error) {
	files, errs := yamlFiles(path)
	var all []*Resource
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			errs.add(subject{file: f, index: -1}, "", "cannot read file: %v", err)
			continue
		}
		rs, ferrs := decodeFile(f, data)
		all = append(all, rs...)
		errs = append(errs, ferrs...)
	}
	errs = append(errs, duplicates(all)...)
	if len(errs) > 0 {
		return nil, &errs
	}
	return all, nil
}

// yamlFiles lists path itself when it is a file, or the YAML files below
// it, sorted so that applies and their errors come in a stable order.
func yamlFiles(path string) ([]string, Errors) {
	var errs Errors
	info, err := os.Stat(path)
	if err != nil {
		errs.add(subject{file: path, index: -1}, "", "cannot read: %v", err)
		return nil, errs
	}
	if !info.IsDir() {
		return []string{path}, nil
	}
	var files []string
	walkErr := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			errs.add(subject{file: p, index: -1}, "", "cannot read: %v", err)
			return nil
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			files = append(files, p)
		}
		return nil
	})
	if walkErr != nil {
		errs.add(subject{file: path, index: -1}, "", "cannot read directory: %v", walkErr)
	}
	if len(files) == 0 && len(errs) == 0 {
		errs.add(subject{file: path, index: -1}, "", "no *.yaml or *.yml files in this directory")
	}
	sort.Strings(files)
	return files, errs
}
