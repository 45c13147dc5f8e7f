#!/usr/bin/python3
"""Publishes sample pet-health sensor readings to Kafka, as the collars'
gateway would: one JSON object per message, keyed by pet, for example

  {"pet_id":"p-17","species":"dog","heart_rate":92,"temperature_c":38.6,
   "activity":"resting","ts":1765100000}

A share of the readings is anomalous (vitals just outside the species'
normal range: severity "warning"; far outside: "critical"), some collars
report `temperature_f` instead of `temperature_c`, and a share is malformed
(not JSON, no pet, a heart rate that is not a number, an unknown species).
When done it prints one JSON line saying what it sent (readings by
severity and by pet, malformed messages by kind: `not_json` or `invalid`),
so a test (or you) can compare it with what reached Datadog.

Needs Debian's python3-kafka:
  /usr/bin/python3 examples/pet-health/producer.py --bootstrap localhost:9092 --count 1000
"""
import argparse
import json
import random
import sys
import time

# Normal resting ranges (heart rate bpm, temperature C); the same numbers as
# the remap program in sluice.yaml.
RANGES = {
    "dog": ((60.0, 140.0), (37.5, 39.3)),
    "cat": ((140.0, 220.0), (37.7, 39.2)),
}
ACTIVITIES = ("resting", "walking", "sleeping", "playing")
MALFORMED = (
    ("not_json", b'{"pet_id": "p-1", "species": "dog", "heart_rate": '),   # cut short
    ("not_json", b'not json at all'),
    ("invalid", b'{"species": "cat", "heart_rate": 150, "temperature_c": 38.1}'),  # no pet
    ("invalid", b'{"pet_id": "p-2", "species": "dog", "heart_rate": "fast", '
                b'"temperature_c": 38.4}'),
    ("invalid", b'{"pet_id": "p-3", "species": "iguana", "heart_rate": 60, '
                b'"temperature_c": 30.0}'),
)


def vitals(rng, species, severity):
    (lo, hi), (tlo, thi) = RANGES[species]
    temp = round(rng.uniform(tlo + 0.2, thi - 0.2), 1)
    if severity == "normal":
        return round(rng.uniform(lo + 5, hi - 5)), temp
    if severity == "warning":     # out of range by less than 25 %
        return round(hi * rng.uniform(1.05, 1.2)), temp
    return round(hi * rng.uniform(1.4, 1.6)), temp    # critical


def reading(rng, pet, species, severity, now):
    hr, temp = vitals(rng, species, severity)
    r = {"pet_id": pet, "species": species, "heart_rate": hr,
         "activity": rng.choice(ACTIVITIES), "ts": now}
    if rng.random() < 0.1:    # an older collar firmware reports Fahrenheit
        r["temperature_f"] = round(temp * 9 / 5 + 32, 2)
    else:
        r["temperature_c"] = temp
    return r


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--bootstrap", default="localhost:9092")
    p.add_argument("--topic", default="pet-health")
    p.add_argument("--count", type=int, default=1000, help="messages to send")
    p.add_argument("--pets", type=int, default=20)
    p.add_argument("--anomalous", type=float, default=0.05, help="share of anomalous readings")
    p.add_argument("--malformed", type=float, default=0.02, help="share of malformed messages")
    p.add_argument("--rate", type=float, default=0, help="messages per second; 0: as fast as it can")
    p.add_argument("--seed", type=int, default=1)
    args = p.parse_args()

    from kafka import KafkaProducer    # Debian's python3-kafka

    rng = random.Random(args.seed)
    pets = [(f"p-{i}", "dog" if i % 3 else "cat") for i in range(1, args.pets + 1)]
    producer = KafkaProducer(bootstrap_servers=args.bootstrap, compression_type="lz4",
                             linger_ms=20, api_version=(2, 5, 0))
    sent = {"messages": 0, "readings": 0, "malformed": {"not_json": 0, "invalid": 0},
            "by_severity": {"normal": 0, "warning": 0, "critical": 0}, "per_pet": {}}
    start = time.monotonic()
    for i in range(args.count):
        if rng.random() < args.malformed:
            kind, payload = rng.choice(MALFORMED)
            producer.send(args.topic, key=b"bad", value=payload)
            sent["malformed"][kind] += 1
        else:
            pet, species = rng.choice(pets)
            severity = "normal"
            if rng.random() < args.anomalous:
                severity = rng.choice(("warning", "critical"))
            r = reading(rng, pet, species, severity, int(time.time()))
            producer.send(args.topic, key=pet.encode(), value=json.dumps(r).encode())
            sent["readings"] += 1
            sent["by_severity"][severity] += 1
            sent["per_pet"][pet] = sent["per_pet"].get(pet, 0) + 1
        sent["messages"] += 1
        if args.rate > 0:
            time.sleep(max(0.0, start + (i + 1) / args.rate - time.monotonic()))
    producer.flush(timeout=30)
    producer.close(timeout=10)
    json.dump(sent, sys.stdout)
    print()


if __name__ == "__main__":
    main()
