/* SPDX-License-Identifier: Apache-2.0 */
/*
 * DOC: error codes
 *
 * Every ueip function that can fail returns an int: 0 on success, a negative
 * errno value for an operating-system failure, or one of the codes below
 * (all below -1000). One X-macro table gives the names, the messages and
 * ueip_strerror(), so a code and its text can never drift apart.
 */
#ifndef UEIP_CORE_ERR_H
#define UEIP_CORE_ERR_H

#define UEIP_ERRORS(X)                                                        \
	X(UEIP_EMALFORMED,   -1001, "malformed input")                         \
	X(UEIP_ETOOBIG,      -1002, "input exceeds its size limit")            \
	X(UEIP_ENOTFOUND,    -1003, "no such object")                          \
	X(UEIP_EEXHAUSTED,   -1004, "address pool exhausted")                  \
	X(UEIP_EUNKNOWNDNN,  -1005, "no pool serves this DNN")                 \
	X(UEIP_EOUTOFPOOL,   -1006, "address is outside every pool")           \
	X(UEIP_EINUSE,       -1007, "address is held by another session")      \
	X(UEIP_ENOTSTATIC,   -1008, "address is not a static reservation")     \
	X(UEIP_ESTATICOTHER, -1009, "static address is reserved for another subscriber") \
	X(UEIP_EBUSY,        -1010, "busy, retry later")                       \
	X(UEIP_ENOTMEMBER,   -1011, "not a member of the set")                 \
	X(UEIP_EAUTH,        -1012, "authentication failed")                   \
	X(UEIP_EVERSION,     -1013, "unsupported protocol version")            \
	X(UEIP_EEPOCH,       -1014, "membership epoch mismatch")               \
	X(UEIP_ESTORE,       -1015, "store failure")                           \
	X(UEIP_ECONFIG,      -1016, "invalid configuration")                   \
	X(UEIP_EUNREACHABLE, -1017, "peer unreachable")                        \
	X(UEIP_ERECOVERING,  -1018, "member is recovering, retry later")       \
	X(UEIP_EINVAL,       -1019, "invalid argument")                        \
	X(UEIP_ECONFLICT,    -1020, "conflicting request")                     \
	X(UEIP_ENOMEM,       -1021, "out of memory")                           \
	X(UEIP_ECONTROLLER,  -1022, "session is controlled by another member")

enum ueip_err {
#define UEIP_ERR_ENUM(name, value, text) name = value,
	UEIP_ERRORS(UEIP_ERR_ENUM)
#undef UEIP_ERR_ENUM
};

/* Text for any ueip code or negative errno; never NULL. */
const char *ueip_strerror(int code);
/* Symbolic name ("UEIP_EEXHAUSTED", "ENOENT", ...); never NULL. */
const char *ueip_errname(int code);

/* Start-up invariants only: never for input from outside. */
#define ueip_require(cond) \
	((cond) ? (void)0 : ueip_require_fail(#cond, __FILE__, __LINE__))
void ueip_require_fail(const char *what, const char *file, int line)
	__attribute__((noreturn));

#endif
