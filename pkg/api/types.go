package api

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

// RevisionHeader carries the store revision a read was served at.
const RevisionHeader = "X-Embassy-Revision"

// MaxApplyBytes bounds the body of an apply request.
const MaxApplyBytes = 8 << 20
