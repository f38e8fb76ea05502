package relay

// Lists are paged by id: a store fetches one item more than the page holds,
// and the extra item's presence says whether a next page exists.

// PageLimit returns the page size for a requested limit: 100 when none (or
// a negative one) is asked, at most 1000.
func PageLimit(n int) int {
	switch {
	case n <= 0:
		return 100
	case n > 1000:
		return 1000
	}
	return n
}

// NewPage returns the page of items, fetched with limit+1 rows: when there
// are more than limit items it keeps the first limit, and Next is the id
// (from id) of the last one kept. Items is never nil.
func NewPage[T any](items []T, limit int, id func(T) string) *Page[T] {
	if items == nil {
		items = []T{}
	}
	page := &Page[T]{Items: items}
	if len(items) > limit {
		page.Items = items[:limit]
		page.Next = id(page.Items[limit-1])
	}
	return page
}
