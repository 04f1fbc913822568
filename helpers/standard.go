package helpers

// standard lists the helpers Standard registers.
func standard() []Helper {
	var hs []Helper
	hs = append(hs, timeHelpers()...)
	hs = append(hs, probeHelpers()...)
	hs = append(hs, miscHelpers()...)
	hs = append(hs, stringHelpers()...)
	hs = append(hs, packetHelpers()...)
	hs = append(hs, mapHelpers()...)
	return hs
}
