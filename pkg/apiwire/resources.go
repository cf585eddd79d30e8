package apiwire

import "embassy.dev/embassy/pkg/resource"

// File is one YAML file of an apply request. Name is what errors call the
// file, so the CLI sends the path the user typed.
type File struct {
	Name    string `json:"name"`
	Content string `json:"content"`
}

// ApplyRequest is the body of POST /v1/apply.
type ApplyRequest struct {
	Files  []File `json:"files"`
	DryRun bool   `json:"dryRun"`
}

// ErrorResponse is the body of every error response. Details carries one
// entry per problem when the error is about documents.
type ErrorResponse struct {
	Error   string          `json:"error"`
	Details resource.Errors `json:"details,omitempty"`
}

// ListResponse is the body of GET /v1/resources/{kind}.
type ListResponse struct {
	Items    []*resource.Resource `json:"items"`
	Revision int64                `json:"revision"`
}

// Headers of GET /v1/backup, so a client can say what it saved and check
// that it got all of it (with Content-Length). HeaderRevision also carries
// the store revision a read of resources was served at.
const (
	HeaderStoreID  = "X-Embassy-Store-Id"
	HeaderRevision = "X-Embassy-Revision"
)

// JSONContentType is the media type of every request body the API takes.
const JSONContentType = "application/json"
