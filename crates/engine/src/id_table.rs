//! A hash table from text ids to a small value (open addressing, linear probing, at most three
//! slots in four taken), for the joins of millions of rows by a text key
//! (a bill's payments by its bill id). An id of up to 16 bytes (as the marketing systems' are)
//! is held in its slot (32 bytes with a value of up to 8), so a lookup reads one slot and compares there; a longer one
//! is kept in the table's own text and the slot says where. Lookups and inserts go a batch at a
//! time: every id's slot is asked of the memory a few rows before it is read, so the misses of a
//! table far larger than the caches overlap instead of following one another.

use std::hash::BuildHasher;

/// Bytes of an id a slot holds.
const HELD: usize = 16;
/// The tag's low bits: set when the slot is taken, and the id's length (or [`LONG`]).
const LOW: u64 = 0x3f;
const TAKEN: u64 = 0x20;
/// The length code of an id not held in its slot.
const LONG: u64 = 31;
/// How many rows ahead a batch asks for a slot.
const AHEAD: usize = 16;

#[derive(Clone, Copy)]
struct Slot<V: Copy> {
    /// 0: empty; else the id's hash with its low bits replaced by [`TAKEN`] and the length code.
    tag: u64,
    /// The id, zero-padded; for a long id, where it starts in the table's text and its length.
    id: [u8; HELD],
    value: V,
}

/// Text ids to values of type `V`.
#[derive(Clone)]
pub struct IdTable<V: Copy> {
    slots: Vec<Slot<V>>,
    /// log2 of the slots.
    bits: u32,
    len: usize,
    /// The ids longer than a slot holds, one after another.
    long: String,
    hasher: foldhash::fast::FixedState,
}

/// Where an id stands against a slot: its hash and tag, and the bytes a slot would hold.
#[derive(Clone, Copy)]
struct Key {
    tag: u64,
    held: Option<[u8; HELD]>,
}

impl<V: Copy> std::fmt::Debug for IdTable<V> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "IdTable({} ids)", self.len)
    }
}

impl<V: Copy + Default> Default for IdTable<V> {
    fn default() -> IdTable<V> {
        IdTable::with_capacity(0)
    }
}

impl<V: Copy + Default> IdTable<V> {
    /// A table with room for `n` ids before it grows.
    pub fn with_capacity(n: usize) -> IdTable<V> {
        let bits = (n.max(8) * 4 / 3 + 1).next_power_of_two().trailing_zeros();
        IdTable {
            slots: vec![Slot { tag: 0, id: [0; HELD], value: V::default() }; 1 << bits],
            bits,
            len: 0,
            long: String::new(),
            hasher: foldhash::fast::FixedState::default(),
        }
    }

    /// How many ids.
    pub fn len(&self) -> usize {
        self.len
    }

    /// No id yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn key(&self, id: &str) -> Key {
        let hash = self.hasher.hash_one(id);
        let bytes = id.as_bytes();
        let held = (bytes.len() <= HELD).then(|| {
            let mut out = [0u8; HELD];
            out[..bytes.len()].copy_from_slice(bytes);
            out
        });
        let code = if held.is_some() { bytes.len() as u64 } else { LONG };
        Key { tag: (hash & !LOW) | TAKEN | code, held }
    }

    /// The first slot to look at for a tag.
    fn home(&self, tag: u64) -> usize {
        (tag >> (64 - self.bits)) as usize
    }

    fn is(&self, slot: &Slot<V>, key: &Key, id: &str) -> bool {
        if slot.tag != key.tag {
            return false;
        }
        match &key.held {
            Some(bytes) => slot.id == *bytes,
            None => self.long_id(slot) == id,
        }
    }

    fn long_id(&self, slot: &Slot<V>) -> &str {
        let from = u64::from_le_bytes(slot.id[..8].try_into().expect("eight bytes")) as usize;
        let len = u64::from_le_bytes(slot.id[8..].try_into().expect("eight bytes")) as usize;
        &self.long[from..from + len]
    }

    /// The slot holding `id`, or the empty one where it would go.
    fn find(&self, key: &Key, id: &str) -> usize {
        let mask = self.slots.len() - 1;
        let mut i = self.home(key.tag);
        loop {
            let slot = &self.slots[i];
            if slot.tag == 0 || self.is(slot, key, id) {
                return i;
            }
            i = (i + 1) & mask;
        }
    }

    /// Asks the memory for the home slot of `key` ahead of its use.
    fn prefetch(&self, key: &Key) {
        #[cfg(target_arch = "x86_64")]
        {
            use std::arch::x86_64::{_MM_HINT_T0, _mm_prefetch};
            let slot: *const Slot<V> = &self.slots[self.home(key.tag)];
            // SAFETY: SSE is part of every x86_64 target, and a prefetch only hints the cache:
            // it reads nothing and cannot fault (the address is a slot of the table anyway).
            unsafe { _mm_prefetch::<_MM_HINT_T0>(slot.cast()) };
        }
        #[cfg(not(target_arch = "x86_64"))]
        let _ = key;
    }

    /// Twice the slots, every id moved to its place among them.
    fn grow(&mut self) {
        let old = std::mem::take(&mut self.slots);
        self.bits += 1;
        self.slots = vec![Slot { tag: 0, id: [0; HELD], value: V::default() }; 1 << self.bits];
        let mask = self.slots.len() - 1;
        for slot in old.into_iter().filter(|s| s.tag != 0) {
            let mut i = self.home(slot.tag);
            while self.slots[i].tag != 0 {
                i = (i + 1) & mask;
            }
            self.slots[i] = slot;
        }
    }

    /// Adds `value` to `id`'s entry by `merge` (a new id starts from `V::default()`).
    fn upsert(&mut self, key: &Key, id: &str, value: V, merge: &impl Fn(&mut V, V)) {
        let i = self.slot_of(key, id);
        merge(&mut self.slots[i].value, value);
    }

    /// The value of `id`, or `make()` put in for it when absent.
    pub fn get_or_insert(&mut self, id: &str, make: impl FnOnce() -> V) -> V {
        let key = self.key(id);
        let before = self.len;
        let i = self.slot_of(&key, id);
        if self.len > before {
            self.slots[i].value = make();
        }
        self.slots[i].value
    }

    /// The slot of `id`, taken for it (with the default value) when absent.
    fn slot_of(&mut self, key: &Key, id: &str) -> usize {
        // At most three slots in four taken: a linear probe for an absent id stays short.
        if (self.len + 1) * 4 > self.slots.len() * 3 {
            self.grow();
        }
        let i = self.find(key, id);
        let slot = &mut self.slots[i];
        if slot.tag == 0 {
            slot.tag = key.tag;
            slot.id = match key.held {
                Some(bytes) => bytes,
                None => {
                    let mut at = [0u8; HELD];
                    at[..8].copy_from_slice(&(self.long.len() as u64).to_le_bytes());
                    at[8..].copy_from_slice(&(id.len() as u64).to_le_bytes());
                    self.long.push_str(id);
                    at
                }
            };
            self.len += 1;
        }
        i
    }

    /// Adds each row's value to its id's entry by `merge`, for rows `0..n` (`row(i)`: the id
    /// and value of row i, None to skip it).
    pub fn add_all<'a>(
        &mut self,
        n: usize,
        row: impl Fn(usize) -> Option<(&'a str, V)>,
        merge: impl Fn(&mut V, V),
    ) {
        let keys: Vec<Option<(Key, &str, V)>> =
            (0..n).map(|i| row(i).map(|(id, v)| (self.key(id), id, v))).collect();
        for i in 0..n {
            if let Some(Some((key, _, _))) = keys.get(i + AHEAD) {
                self.prefetch(key);
            }
            if let Some((key, id, v)) = &keys[i] {
                self.upsert(key, id, *v, &merge);
            }
        }
    }

    /// The value of `id`, when present.
    pub fn get(&self, id: &str) -> Option<V> {
        self.value(&self.key(id), id)
    }

    fn value(&self, key: &Key, id: &str) -> Option<V> {
        let slot = &self.slots[self.find(key, id)];
        (slot.tag != 0).then_some(slot.value)
    }

    /// Each id's value for rows `0..n` (`id(i)`: row i's id, None for none), in row order.
    pub fn get_all<'a>(&self, n: usize, id: impl Fn(usize) -> Option<&'a str>, out: &mut Vec<Option<V>>) {
        let keys: Vec<Option<(Key, &str)>> = (0..n).map(|i| id(i).map(|id| (self.key(id), id))).collect();
        out.clear();
        for i in 0..n {
            if let Some(Some((key, _))) = keys.get(i + AHEAD) {
                self.prefetch(key);
            }
            out.push(keys[i].as_ref().and_then(|(key, id)| self.value(key, id)));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_short_and_long_sum_their_rows_and_are_found_after_growing() {
        // Room for 8 only: the table grows several times over 3,000 ids.
        let mut table: IdTable<i64> = IdTable::with_capacity(1);
        let ids: Vec<String> = (0..3000)
            .map(|i| match i % 3 {
                0 => format!("{i}"),
                1 => format!("B{i:015}"),                   // 16 bytes: held whole
                _ => format!("长编号-{i:020}-with-a-tail"), // longer than a slot holds
            })
            .collect();
        // Each id paid twice (i and 1), split over two batches; an empty id and a skipped row.
        table.add_all(ids.len(), |i| Some((ids[i].as_str(), i as i64)), |v, x| *v += x);
        table.add_all(ids.len() + 2, |i| (i < ids.len()).then(|| (ids[i].as_str(), 1)), |v, x| *v += x);
        table.add_all(1, |_| Some(("", 7)), |v, x| *v += x);
        assert_eq!(table.len(), 3001);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(table.get(id), Some(i as i64 + 1), "{id}");
        }
        assert_eq!(table.get(""), Some(7));
        // Prefixes, the same bytes padded, and ids never added are absent.
        for absent in ["1\0", "B00000000000000", "长编号-00000000000000000002-with-a-tai", "x"] {
            assert_eq!(table.get(absent), None, "{absent:?}");
        }
        let asked: Vec<Option<&str>> = vec![Some("3"), None, Some("x"), Some(&ids[2]), Some("")];
        let mut out = Vec::new();
        table.get_all(asked.len(), |i| asked[i], &mut out);
        assert_eq!(out, vec![Some(4), None, None, Some(3), Some(7)]);
        // An id present keeps its value; an absent one takes the one made for it.
        assert_eq!(table.get_or_insert(&ids[5], || -1), 6);
        assert_eq!(table.get_or_insert("new", || 42), 42);
        assert_eq!((table.get("new"), table.len()), (Some(42), 3002));
    }
}
