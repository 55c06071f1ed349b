package verify

import "time"

// SetDiskCacheClock makes c read the time from now, so that tests can age its entries.
func SetDiskCacheClock(c *DiskCache, now func() time.Time) { c.now = now }
