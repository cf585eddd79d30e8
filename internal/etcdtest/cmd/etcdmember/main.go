// Command etcdmember runs one embedded etcd member with the code
// embassy-cp --etcd-embedded runs, so that tests can form a cluster of
// separate processes and kill them. It prints "ready CLIENT-URL" once the
// member is part of a cluster with a leader, and stops on SIGTERM.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"embassy.dev/embassy/pkg/store"
)

func main() {
	var cfg store.EmbedConfig
	var peers string
	flag.StringVar(&cfg.Name, "name", "", "this member's name in --peers")
	flag.StringVar(&cfg.Dir, "dir", "", "the member's data dir")
	flag.StringVar(&peers, "peers", "", "every member: name=http://host:port,...")
	flag.StringVar(&cfg.ClientURL, "client-url", "http://127.0.0.1:0", "where to serve clients")
	flag.Parse()
	cfg.LogLevel = "fatal"
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var err error
	if cfg.Peers, err = store.ParsePeers(peers); err != nil {
		fmt.Fprintln(os.Stderr, "etcdmember:", err)
		os.Exit(2)
	}
	m, err := store.StartMember(ctx, cfg)
	if err != nil {
		fmt.Fprintln(os.Stderr, "etcdmember:", err)
		os.Exit(1)
	}
	fmt.Println("ready", m.ClientURL())
	<-ctx.Done()
	m.Close()
}
