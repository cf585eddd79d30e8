// Package discovery maps a Kubernetes cluster into the mesh model: it
// watches Services, EndpointSlices and Pods with client-go informers and
// makes a mesh Service of each Kubernetes Service (ports and protocols
// from appProtocol or the port name) and a mesh Workload of each ready
// Pod behind one (its labels, service account and locality). These
// resources are never stored: the control plane lays them over what
// embassyctl applied each time it publishes (see Source.Overlay), so
// they follow the cluster and vanish with it.
package discovery

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/go-hclog"
	corev1 "k8s.io/api/core/v1"
	discoveryv1 "k8s.io/api/discovery/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/cache"

	"embassy.dev/embassy/pkg/resource"
)

// Source follows the cluster. It is safe for concurrent use.
type Source struct {
	log     hclog.Logger
	changes chan struct{}
	watches []*namespaceWatch
	custom  []*customWatch
}

// namespaceWatch holds the listers of one namespace, or of all.
type namespaceWatch struct {
	factory   informers.SharedInformerFactory
	services  func() ([]*corev1.Service, error)
	slices    func() ([]*discoveryv1.EndpointSlice, error)
	pods      func(ns, name string) *corev1.Pod
	hasSynced []cache.InformerSynced
}

// New returns a Source over client, watching the namespaces given, or
// every namespace when none is. With custom set it also follows the
// Embassy custom resources (Mesh, Route, TrafficPolicy,
// AuthorizationPolicy), whose CRDs must then be installed.
func New(client kubernetes.Interface, custom dynamic.Interface, namespaces []string, log hclog.Logger) (*Source, error) {
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if len(namespaces) == 0 {
		namespaces = []string{metav1.NamespaceAll}
	}
	s := &Source{log: log, changes: make(chan struct{}, 1)}
	for _, ns := range namespaces {
		w, err := s.watch(client, ns)
		if err != nil {
			return nil, err
		}
		s.watches = append(s.watches, w)
	}
	if custom != nil {
		if err := s.customWatches(custom, namespaces); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// watch sets up the informers of one namespace.
func (s *Source) watch(client kubernetes.Interface, ns string) (*namespaceWatch, error) {
	f := informers.NewSharedInformerFactoryWithOptions(client, 0, informers.WithNamespace(ns))
	svc := f.Core().V1().Services()
	sl := f.Discovery().V1().EndpointSlices()
	pod := f.Core().V1().Pods()
	h := s.handler()
	for _, inf := range []cache.SharedIndexInformer{svc.Informer(), sl.Informer(), pod.Informer()} {
		if _, err := inf.AddEventHandler(h); err != nil {
			return nil, fmt.Errorf("kubernetes discovery: %w", err)
		}
	}
	return &namespaceWatch{
		factory:  f,
		services: func() ([]*corev1.Service, error) { return svc.Lister().List(labels.Everything()) },
		slices:   func() ([]*discoveryv1.EndpointSlice, error) { return sl.Lister().List(labels.Everything()) },
		pods: func(ns, name string) *corev1.Pod {
			p, err := pod.Lister().Pods(ns).Get(name)
			if err != nil {
				return nil
			}
			return p
		},
		hasSynced: []cache.InformerSynced{svc.Informer().HasSynced, sl.Informer().HasSynced, pod.Informer().HasSynced},
	}, nil
}

// handler signals a change on every event of an informer.
func (s *Source) handler() cache.ResourceEventHandler {
	return cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { s.changed() },
		UpdateFunc: func(any, any) { s.changed() },
		DeleteFunc: func(any) { s.changed() },
	}
}

// changed signals a change without waiting: one pending signal stands
// for any number of changes, since Overlay reads the whole state.
func (s *Source) changed() {
	select {
	case s.changes <- struct{}{}:
	default:
	}
}

// Changes receives a value after the cluster changed.
func (s *Source) Changes() <-chan struct{} { return s.changes }

// Start starts the informers and waits until their first lists are in,
// so the first snapshot the control plane publishes already holds the
// cluster. The informers stop with ctx.
func (s *Source) Start(ctx context.Context) error {
	for _, w := range s.watches {
		w.factory.Start(ctx.Done())
	}
	for _, w := range s.custom {
		w.factory.Start(ctx.Done())
	}
	for _, w := range s.watches {
		if !cache.WaitForCacheSync(ctx.Done(), w.hasSynced...) {
			return errors.New("kubernetes discovery: the informers did not sync: is the API server reachable and may this identity list and watch services, endpointslices and pods?")
		}
	}
	for _, w := range s.custom {
		if !cache.WaitForCacheSync(ctx.Done(), w.hasSynced...) {
			return errors.New("kubernetes discovery: the informers of the Embassy custom resources did not sync: are deploy/kubernetes/crds.yaml installed, and may this identity list and watch them?")
		}
	}
	return nil
}

// Resources maps the cluster's current state to mesh resources, sorted by
// kind, namespace and name, with the problems of custom resources that do
// not decode. Listing from informers' caches cannot fail.
func (s *Source) Resources() ([]*resource.Resource, []string) {
	var out []*resource.Resource
	var problems []string
	for _, w := range s.custom {
		rs, ps := w.resources()
		out, problems = append(out, rs...), append(problems, ps...)
	}
	for _, w := range s.watches {
		svcs, _ := w.services()
		for _, svc := range svcs {
			if r := serviceResource(svc); r != nil {
				out = append(out, r)
			}
		}
		eps, _ := w.slices()
		out = append(out, workloads(eps, w.pods)...)
	}
	sortResources(out)
	return out, problems
}
