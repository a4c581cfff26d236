package testenv

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"sort"
	"sync"

	"github.com/johannesboyne/gofakes3"
	"github.com/johannesboyne/gofakes3/backend/s3mem"
)

// S3Fake is gofakes3 (an in-process S3: MinIO costs minutes of cold
// build) with one bucket, recording each PUT's headers.
type S3Fake struct {
	*httptest.Server
	Bucket  string
	backend *s3mem.Backend
	mu      sync.Mutex
	puts    []http.Header
	fail    int // answer the next fail PUTs with 500
}

// NewS3Fake starts the fake with bucket created.
func NewS3Fake(bucket string) (*S3Fake, error) {
	f := &S3Fake{Bucket: bucket, backend: s3mem.New()}
	if err := f.backend.CreateBucket(bucket); err != nil {
		return nil, err
	}
	s3 := gofakes3.New(f.backend, gofakes3.WithTimeSkewLimit(0)).Server()
	f.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut {
			f.mu.Lock()
			f.puts = append(f.puts, r.Header.Clone())
			failing := f.fail > 0
			if failing {
				f.fail--
			}
			f.mu.Unlock()
			if failing {
				http.Error(w, "<Error><Code>InternalError</Code></Error>", http.StatusInternalServerError)
				return
			}
		}
		s3.ServeHTTP(w, r)
	}))
	return f, nil
}

// FailNext makes the next n PUTs fail with 500.
func (f *S3Fake) FailNext(n int) { f.mu.Lock(); f.fail = n; f.mu.Unlock() }

// Puts are the headers of the PUTs received so far.
func (f *S3Fake) Puts() []http.Header {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]http.Header(nil), f.puts...)
}

// Objects are the bucket's objects, key → contents (gunzipped when the
// key ends in .gz), sorted by key in Keys.
func (f *S3Fake) Objects() (keys []string, contents map[string][]byte, err error) {
	list, err := f.backend.ListBucket(f.Bucket, &gofakes3.Prefix{}, gofakes3.ListBucketPage{})
	if err != nil {
		return nil, nil, err
	}
	contents = map[string][]byte{}
	for _, item := range list.Contents {
		obj, err := f.backend.GetObject(f.Bucket, item.Key, nil)
		if err != nil {
			return nil, nil, err
		}
		b, err := io.ReadAll(obj.Contents)
		obj.Contents.Close()
		if err != nil {
			return nil, nil, err
		}
		if len(item.Key) > 3 && item.Key[len(item.Key)-3:] == ".gz" {
			zr, err := gzip.NewReader(bytes.NewReader(b))
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %w", item.Key, err)
			}
			if b, err = io.ReadAll(zr); err != nil {
				return nil, nil, fmt.Errorf("%s: %w", item.Key, err)
			}
		}
		keys = append(keys, item.Key)
		contents[item.Key] = b
	}
	sort.Strings(keys)
	return keys, contents, nil
}
