//! Media without I/O: RTP/RTCP, SDP offer/answer, G.711 and transcoding, per-leg statistics.
