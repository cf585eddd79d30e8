package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"embassy.dev/embassy/pkg/client"
)

// ReadFiles reads every path: a file as given, a directory as all *.yaml
// and *.yml files below it, recursively and sorted. Names are the paths as
// the user would type them, so server errors point at the right file.
func ReadFiles(paths []string) ([]client.File, error) {
	if len(paths) == 0 {
		return nil, fmt.Errorf("no files given: pass -f FILE or -f DIR (repeatable)")
	}
	var out []client.File
	for _, p := range paths {
		names, err := yamlFiles(p)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, fmt.Errorf("read %s: %w", n, err)
			}
			out = append(out, client.File{Name: n, Content: string(b)})
		}
	}
	return out, nil
}

// yamlFiles lists path itself when it is a file, or the YAML files below
// it when it is a directory.
func yamlFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	var names []string
	err = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && (strings.HasSuffix(p, ".yaml") || strings.HasSuffix(p, ".yml")) {
			names = append(names, p)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read directory %s: %w", path, err)
	}
	if len(names) == 0 {
		return nil, fmt.Errorf("directory %s has no *.yaml or *.yml files: point -f at the files to apply", path)
	}
	sort.Strings(names)
	return names, nil
}
