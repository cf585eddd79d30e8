package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/yaml"
)

// configHelp explains where the server and token come from; it ends the
// root command's help.
const configHelp = `

Configuration: --server and --token-file win over EMBASSY_SERVER and
EMBASSY_TOKEN_FILE, which win over the config file, which wins over the
defaults (` + defaultServer + `, no token). The config file is --config
FILE, else $EMBASSY_CONFIG, else $XDG_CONFIG_HOME/embassy/config.yaml
(~/.config/embassy/config.yaml without XDG_CONFIG_HOME); a missing default
file is fine. It holds:

  server: http://127.0.0.1:15000
  tokenFile: /var/lib/embassy/admin-token   # relative: to the file's directory`

// fileConfig is the config file's content.
type fileConfig struct {
	Server    string `json:"server,omitempty"`
	TokenFile string `json:"tokenFile,omitempty"`
}

// configFlags are the global flags before resolution.
type configFlags struct {
	config string
}

// addGlobalFlags adds --server, --token-file and --config to root and
// resolves them, before any command runs, into g.
func addGlobalFlags(root *cobra.Command, g *globals) {
	cf := &configFlags{}
	pf := root.PersistentFlags()
	pf.StringVar(&g.server, "server", "", "embassy-cp API URL (env EMBASSY_SERVER, config server:, default "+defaultServer+")")
	pf.StringVar(&g.tokenFile, "token-file", "", "file holding the admin token (any command) or the read token (reads only) (env EMBASSY_TOKEN_FILE, config tokenFile:)")
	pf.StringVar(&cf.config, "config", "", "config file with server: and tokenFile: (env EMBASSY_CONFIG, default $XDG_CONFIG_HOME/embassy/config.yaml)")
	root.Long += configHelp
	root.PersistentPreRunE = func(cmd *cobra.Command, _ []string) error {
		return resolveGlobals(g, cf.config, pf.Changed("server"), pf.Changed("token-file"), os.Getenv)
	}
}

// resolveGlobals fills g.server and g.tokenFile by precedence: a flag the
// user set, then the environment, then the config file, then defaults.
func resolveGlobals(g *globals, configPath string, serverSet, tokenSet bool, getenv func(string) string) error {
	explicit := configPath != ""
	if !explicit {
		configPath = getenv("EMBASSY_CONFIG")
		explicit = configPath != ""
	}
	if !explicit {
		configPath = defaultConfigPath(getenv)
	}
	fc, err := readConfig(configPath, explicit)
	if err != nil {
		return err
	}
	if !serverSet {
		g.server = first(getenv("EMBASSY_SERVER"), fc.Server, defaultServer)
	}
	if !tokenSet {
		g.tokenFile = first(getenv("EMBASSY_TOKEN_FILE"), fc.TokenFile)
	}
	return nil
}

// defaultConfigPath is $XDG_CONFIG_HOME/embassy/config.yaml, or
// ~/.config/embassy/config.yaml; "" when neither can be known.
func defaultConfigPath(getenv func(string) string) string {
	if x := getenv("XDG_CONFIG_HOME"); x != "" {
		return filepath.Join(x, "embassy", "config.yaml")
	}
	home := getenv("HOME")
	if home == "" {
		return ""
	}
	return filepath.Join(home, ".config", "embassy", "config.yaml")
}

// readConfig reads a config file. A default file that does not exist is
// no config; a file the user named must exist. Unknown keys are refused,
// so a typo (token_file:) does not silently fall back to a default.
func readConfig(path string, explicit bool) (fileConfig, error) {
	var fc fileConfig
	if path == "" {
		return fc, nil
	}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) && !explicit {
		return fc, nil
	}
	if err != nil {
		return fc, fmt.Errorf("config file: %w", err)
	}
	if err := yaml.UnmarshalStrict(b, &fc); err != nil {
		return fc, fmt.Errorf("config file %s: %v (want server: URL and tokenFile: PATH)", path, err)
	}
	if fc.TokenFile != "" {
		fc.TokenFile = expandPath(fc.TokenFile, filepath.Dir(path))
	}
	return fc, nil
}

// expandPath resolves "~/" against $HOME and a relative path against dir.
func expandPath(p, dir string) string {
	if rest, ok := strings.CutPrefix(p, "~/"); ok {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, rest)
		}
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(dir, p)
}

// first returns the first non-empty value.
func first(vs ...string) string {
	for _, v := range vs {
		if v != "" {
			return v
		}
	}
	return ""
}
