package discovery

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/tools/cache"

	"embassy.dev/embassy/pkg/kube/crd"
	"embassy.dev/embassy/pkg/resource"
)

// customWatches are the watches of the custom resources of namespaces
// (every one when none is named); the Mesh is cluster-wide, so with
// named namespaces it has a watch of its own.
func (s *Source) customWatches(client dynamic.Interface, namespaces []string) error {
	var namespaced []resource.Kind
	for _, k := range crd.Kinds {
		if k.Namespaced() {
			namespaced = append(namespaced, k)
		}
	}
	type scope struct {
		ns    string
		kinds []resource.Kind
	}
	scopes := []scope{{metav1.NamespaceAll, crd.Kinds}}
	if len(namespaces) > 0 && namespaces[0] != metav1.NamespaceAll {
		scopes = []scope{{metav1.NamespaceAll, []resource.Kind{resource.KindMesh}}}
		for _, ns := range namespaces {
			scopes = append(scopes, scope{ns, namespaced})
		}
	}
	for _, sc := range scopes {
		w, err := s.watchCustom(client, sc.ns, sc.kinds)
		if err != nil {
			return err
		}
		s.custom = append(s.custom, w)
	}
	return nil
}

// customWatch follows Embassy custom resources (deploy/kubernetes/
// crds.yaml) of one namespace, or of all.
type customWatch struct {
	factory   dynamicinformer.DynamicSharedInformerFactory
	listers   []cache.GenericLister
	hasSynced []cache.InformerSynced
}

// watchCustom sets up the informers of the custom resources of kinds in
// ns.
func (s *Source) watchCustom(client dynamic.Interface, ns string, kinds []resource.Kind) (*customWatch, error) {
	w := &customWatch{factory: dynamicinformer.NewFilteredDynamicSharedInformerFactory(client, 0, ns, nil)}
	for _, k := range kinds {
		inf := w.factory.ForResource(schema.GroupVersionResource{Group: crd.Group, Version: crd.Version, Resource: crd.Plural(k)})
		if _, err := inf.Informer().AddEventHandler(s.handler()); err != nil {
			return nil, fmt.Errorf("kubernetes discovery: %w", err)
		}
		w.listers = append(w.listers, inf.Lister())
		w.hasSynced = append(w.hasSynced, inf.Informer().HasSynced)
	}
	return w, nil
}

// resources reads the custom resources as embassyctl would read them;
// one that does not decode is a problem, not a resource (the validating
// webhook keeps such objects out, but it may have been off).
func (w *customWatch) resources() (out []*resource.Resource, problems []string) {
	for _, l := range w.listers {
		objs, _ := l.List(labels.Everything())
		for _, o := range objs {
			u, ok := o.(*unstructured.Unstructured)
			if !ok {
				continue
			}
			raw, err := json.Marshal(u.Object)
			if err == nil {
				var rs []*resource.Resource
				if rs, err = crd.Decode(raw); err == nil {
					out = append(out, rs...)
					continue
				}
			}
			problems = append(problems, fmt.Sprintf("%s %s/%s from Kubernetes is not served: %v", u.GetKind(), u.GetNamespace(), u.GetName(), err))
		}
	}
	return out, problems
}
