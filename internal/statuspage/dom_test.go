package statuspage

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"golang.org/x/net/html"
)

// DOM helpers: the pages are checked as a browser would parse them.

func parse(t testing.TB, page string) *html.Node {
	t.Helper()
	doc, err := html.Parse(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func isElem(n *html.Node, tag string) bool { return n.Type == html.ElementNode && n.Data == tag }

func attr(n *html.Node, key string) string {
	for _, a := range n.Attr {
		if a.Key == key {
			return a.Val
		}
	}
	return ""
}

// find is the first node under n (n included) that ok accepts.
func find(n *html.Node, ok func(*html.Node) bool) *html.Node {
	if n == nil {
		return nil
	}
	if ok(n) {
		return n
	}
	for c := n.FirstChild; c != nil; c = c.NextSibling {
		if f := find(c, ok); f != nil {
			return f
		}
	}
	return nil
}

func byID(n *html.Node, id string) *html.Node {
	return find(n, func(n *html.Node) bool { return n.Type == html.ElementNode && attr(n, "id") == id })
}

// text is n's text content with runs of white space as one space.
func text(n *html.Node) string {
	var b strings.Builder
	var walk func(*html.Node)
	walk = func(n *html.Node) {
		if n.Type == html.TextNode {
			b.WriteString(n.Data)
		}
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			walk(c)
		}
	}
	if n != nil {
		walk(n)
	}
	return strings.Join(strings.Fields(b.String()), " ")
}

func texts(cells []*html.Node) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		out[i] = text(c)
	}
	return out
}

// rowsOf is the cells of each body row of the table with id (any table
// when id is "").
func rowsOf(t testing.TB, doc *html.Node, id string) [][]*html.Node {
	t.Helper()
	table := find(doc, func(n *html.Node) bool { return isElem(n, "table") && (id == "" || attr(n, "id") == id) })
	if table == nil {
		t.Fatalf("no table %q", id)
	}
	tbody := find(table, func(n *html.Node) bool { return isElem(n, "tbody") })
	var rows [][]*html.Node
	for tr := tbody.FirstChild; tr != nil; tr = tr.NextSibling {
		if !isElem(tr, "tr") {
			continue
		}
		var cells []*html.Node
		for td := tr.FirstChild; td != nil; td = td.NextSibling {
			if isElem(td, "td") {
				cells = append(cells, td)
			}
		}
		if len(cells) == 1 && attr(cells[0], "colspan") != "" {
			continue // "None."
		}
		rows = append(rows, cells)
	}
	return rows
}

func httptestDo(h http.Handler, method, path string) int {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, nil))
	return rec.Code
}
