// Command kube-etcd runs an embedded etcd on loopback for a test's
// Kubernetes API server: one member, client URL from -listen, data under
// -dir. It prints "ready" on stdout once etcd serves and runs until it is
// signalled.
package main

import (
	"flag"
	"fmt"
	"log"
	"net/url"
	"os"
	"os/signal"
	"syscall"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
)

func main() {
	dir := flag.String("dir", "", "data directory (required)")
	client := flag.String("listen", "http://127.0.0.1:2379", "client URL, on loopback")
	peer := flag.String("peer", "http://127.0.0.1:2380", "peer URL, on loopback")
	flag.Parse()
	if *dir == "" {
		log.Fatal("kube-etcd: -dir is required")
	}
	cfg := embed.NewConfig()
	cfg.Dir = *dir
	cfg.LogLevel = "error"
	cu, err := url.Parse(*client)
	if err != nil {
		log.Fatalf("kube-etcd: -listen: %v", err)
	}
	pu, err := url.Parse(*peer)
	if err != nil {
		log.Fatalf("kube-etcd: -peer: %v", err)
	}
	cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
	cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
	cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
	e, err := embed.StartEtcd(cfg)
	if err != nil {
		log.Fatalf("kube-etcd: %v", err)
	}
	defer e.Close()
	select {
	case <-e.Server.ReadyNotify():
	case <-time.After(60 * time.Second):
		log.Fatal("kube-etcd: etcd was not ready within 60s")
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	select {
	case <-sig:
	case err := <-e.Err():
		log.Fatalf("kube-etcd: %v", err)
	}
}
