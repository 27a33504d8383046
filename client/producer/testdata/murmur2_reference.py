#!/usr/bin/env python3
"""Independent reference for client/producer/partitioner_test.cc.

Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2) written again from the algorithm's
definition in Python (arbitrary-precision integers, masked to 32 bits by hand), then checked
against vectors published elsewhere (Kafka's own UtilsTest, librdkafka's rdmurmur2.c unit test,
akka's and kafka_ex's test suites). Running it prints the hashes and the expected partitions
toPositive(h) % n that the C++ test hard-codes; every line must say OK.
"""
# Algorithm: # seed 0x9747b28c, m = 0x5bd1e995, r = 24, little-endian 4-byte words, tail mixed
# in by falling through from 3 to 1 bytes, final avalanche h ^= h>>>13; h *= m; h ^= h>>>15.
M32 = 0xffffffff
def murmur2(data: bytes) -> int:
    length = len(data)
    seed = 0x9747b28c
    m = 0x5bd1e995
    r = 24
    h = (seed ^ length) & M32
    n4 = length // 4
    for i in range(n4):
        k = int.from_bytes(data[4*i:4*i+4], 'little')
        k = (k * m) & M32
        k ^= k >> r
        k = (k * m) & M32
        h = (h * m) & M32
        h ^= k
    rem = length % 4
    base = length & ~3
    if rem == 3:
        h ^= data[base + 2] << 16
    if rem >= 2:
        h ^= data[base + 1] << 8
    if rem >= 1:
        h ^= data[base]
        h = (h * m) & M32
    h ^= h >> 13
    h = (h * m) & M32
    h ^= h >> 15
    return h - (1 << 32) if h & 0x80000000 else h

def signed(x): return x - (1<<32) if x & 0x80000000 else x
published = {b"21": -973932308, b"foobar": -790332482, b"a-little-bit-long-string": -985981536,
  b"a-little-bit-longer-string": -1486304829,
  b"lkjh234lh9fiuh90y23oiuhsafujhadof229phr9h19h89h8": -58897971, b"abc": 479470107,
  b"1": -1993445489, b"12": 126087238, b"123": -267702483, b"1234": -1614185708, b"12345": -1188365604,
  b"kafka": signed(0xd067cf64)}
for k, v in published.items():
    print(k, murmur2(k), v, "OK" if murmur2(k) == v else "MISMATCH")
umur = {b"rule": 473888304, b"monkey": 385264353, b"hover": 164653822, b"guest": 1235690374,
  b"necklace": 1631936446, b"storm": 393248174, b"paint": 493731830, b"agony": 989421259,
  b"strategic": 1388697647, b"redundancy": 451414978}
for k, v in umur.items():
    print(k, murmur2(k) & 0x7fffffff, v, "OK" if murmur2(k) & 0x7fffffff == v else "MISMATCH")
for k in [b"", b"21", b"foobar", b"abc", b"kafka", b"key-0", b"key-1", b"key-2", b"orders-42", bytes([0xff,0x80,0x00,0x7f,0x01])]:
    h = murmur2(k)
    print(k, h, [ (h & 0x7fffffff) % n for n in (1,2,3,6,7,12,100)])
