// k8s-manifest-check reads Kubernetes manifests on stdin (YAML documents, as `helm template` prints
// them) and decodes each one strictly into its Kubernetes API type, as the API server would: an
// unknown or misspelt field, a value of the wrong type, a duplicate key, or a kind the API does not
// have is reported with the object it is in, and the exit status is 1. It checks the Helm chart in
// deploy/helm/ (test/unit/deploy/helm-chart.test.ts) without a cluster or downloaded schemas.
package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime/serializer"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/kubernetes/scheme"
)

func main() {
	decoder := serializer.NewCodecFactory(scheme.Scheme, serializer.EnableStrict).UniversalDeserializer()
	reader := utilyaml.NewYAMLReader(bufio.NewReader(os.Stdin))
	valid, invalid := 0, 0
	for index := 1; ; index++ {
		document, err := reader.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "document %d: cannot be read: %v\n", index, err)
			os.Exit(1)
		}
		if isEmpty(document) {
			continue
		}
		object, kind, err := decoder.Decode(document, nil, nil)
		name := fmt.Sprintf("document %d", index)
		if object != nil {
			if accessor, accessErr := meta.Accessor(object); accessErr == nil {
				name = fmt.Sprintf("%s %s", kind.Kind, accessor.GetName())
			}
		}
		if err != nil {
			invalid++
			fmt.Fprintf(os.Stderr, "%s: %v\n", name, err)
			continue
		}
		valid++
		fmt.Printf("%s: valid\n", name)
	}
	if valid+invalid == 0 {
		fmt.Fprintln(os.Stderr, "no manifest on stdin")
		os.Exit(1)
	}
	if invalid > 0 {
		os.Exit(1)
	}
}

// isEmpty: nothing but blank lines, comments and document markers (Helm prints a `---` and a
// `# Source:` comment even for a template that renders nothing).
func isEmpty(document []byte) bool {
	for _, line := range strings.Split(string(document), "\n") {
		trimmed := strings.TrimSpace(line)
		if trimmed != "" && trimmed != "---" && !strings.HasPrefix(trimmed, "#") {
			return false
		}
	}
	return true
}
